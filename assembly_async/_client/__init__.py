"""The client: ``AssemblyClient``, school and app sessions, the operation
runner they share, the generated resources, pagination, deltas of
conditional lists and the in-memory sync state."""
