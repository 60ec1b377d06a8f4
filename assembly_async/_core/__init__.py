"""The sans-I/O core: configuration, the error tree, the operation table, and
pure functions that build requests and read responses (status, headers, body)
and paging facts. Nothing here touches the network or asyncio; ``storage``
holds the local-file helpers (private files, SQLite connections) that the
token store, sync states and sinks share."""
