"""Bulk sync: the engine that syncs many schools into a sink, its reports,
and the SQLite sync state. The sinks themselves are the public
``assembly_async.sinks`` package, one layer below."""
