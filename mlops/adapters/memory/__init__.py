"""In-memory fakes of every port: the same contract suites as the cloud adapters, for fast unit tests."""
