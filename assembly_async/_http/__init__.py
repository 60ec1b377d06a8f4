"""The HTTP machinery: the request pipeline (deadline, rate budget, auth,
retries), the transport (the only aiohttp importer), rate limiters, retry
decisions, token providers, events and counters."""
