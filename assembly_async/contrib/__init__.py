"""Optional integrations with other libraries, each behind its own extra.

* :mod:`assembly_async.contrib.otel` (``pip install "assembly-async[otel]"``):
  OpenTelemetry spans and metrics from the client's hook events.
"""
