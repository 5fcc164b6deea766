"""Local apply: run the infra program under Pulumi mocks that create every declared resource in the emulator."""
