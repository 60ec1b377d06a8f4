"""A FakeAssembly on its own event loop in a thread, for code that runs its own
loop (``asyncio.run`` in the CLI's ``main()`` and in the docs' examples)."""

from __future__ import annotations


class ThreadedFake:
    """A FakeAssembly on its own event loop in a thread, so main() can asyncio.run."""

    def __init__(self, **options: object) -> None:
        import asyncio
        import threading

        from assembly_async.testing import FakeAssembly

        self.loop = asyncio.new_event_loop()
        self.fake = FakeAssembly(**options)  # type: ignore[arg-type]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ThreadedFake:
        import asyncio

        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def call(self, fn: object, *args: object) -> object:
        import asyncio

        async def run() -> object:
            return fn(*args)  # type: ignore[operator]

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)
