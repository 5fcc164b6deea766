"""AWS adapters: the only modules that call boto3, one per service, each implementing a port of mlops.ports."""
