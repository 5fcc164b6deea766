"""The Pulumi program of mlops-kit: typed stack config, one component per capability, pure naming and
policy logic, and the in-process runner used by `mlops infra plan` and the local apply."""
