"""The local front door: one loopback URL that answers the SageMaker runtime API from the local model processes
and passes everything else to the emulator (see :mod:`mlops.local.frontdoor.app`)."""
