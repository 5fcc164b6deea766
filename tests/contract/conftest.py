"""Contract suites: one module per port (``test_<port>.py``), each run over every implementation of the port.

Each module defines its own parametrised fixture that yields the implementation under test (``memory`` always,
``aws-moto`` on the session's embedded emulator, ``aws-localstack`` where LocalStack's free edition runs the
service). The tests assert the port's documented behaviour only, never an implementation's internals, so a new
backend (GCS, Pub/Sub, Firestore, ...) is proven by adding one parameter.
"""
