"""Shared by every test folder: pytest puts this folder (tests/) on sys.path for the
conftest it finds here, so tests/interop and tests/load import the shared helpers
(sample_objects, test_aio, test_connection_helpers) by module name."""
