"""Configuration of a fake Assembly server (sizes, limits, OAuth options)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_YEAR_CODES: tuple[str, ...] = ("7", "8", "9", "10", "11", "12", "13")


@dataclass(frozen=True)
class FakeConfig:
    """Everything that shapes a :class:`FakeAssembly`; all fields have defaults.

    Durations are in seconds.  ``time_scale`` speeds up the rate-limit window
    only (``rate_window / time_scale`` real seconds); ``access_token_ttl`` is in
    real seconds.
    """

    schools: int = 3
    seed: int = 0
    first_school_id: int = 1
    # data sizes (per school)
    students_per_school: int = 200
    left_students_per_school: int = 3
    staff_per_school: int = 40
    left_staff_per_school: int = 2
    year_codes: tuple[str, ...] = DEFAULT_YEAR_CODES
    registration_groups_per_year: int = 2
    teaching_groups_per_year: int = 6
    house_groups: int = 4
    user_groups: int = 2
    attendance_days: int = 5
    results_per_student: int = 2
    calendar_events: int = 20
    rooms: int = 12
    timetables: int = 1
    exclusions_per_school: int = 4
    # rate limiting
    rate_limit: int = 600
    rate_window: float = 300.0
    time_scale: float = 1.0
    retry_after_header: bool = False
    # paging: the largest per_page served, and what happens above it ("refuse":
    # 400 like a server enforcing a lower maximum; "cap": silently serve pages of
    # max_per_page, stated in Per-Page and the page counts)
    max_per_page: int = 1500
    over_max_per_page: str = "refuse"
    # OAuth
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    app_id: int = 4242
    app_name: str = "Fake Assembly App"
    redirect_uri: str | None = None
    access_token_ttl: int = 86400
    rotate_refresh_tokens: bool = False
    authorize_school_id: int | None = None
    # data shapes: add the real-world oddities of testing/_oddities.py
    oddities: bool = False

    def __post_init__(self) -> None:
        if self.schools < 1:
            raise ValueError("schools must be >= 1")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.rate_limit < 1 or self.rate_window <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window > 0")
        if self.first_school_id < 1 or self.first_school_id + self.schools > 2000:
            raise ValueError("school ids must stay within 1..1999 (ids are int32)")
        if not self.year_codes:
            raise ValueError("year_codes must not be empty")
        if not 1 <= self.max_per_page <= 1500:
            raise ValueError("max_per_page must be within 1..1500")
        if self.over_max_per_page not in ("refuse", "cap"):
            raise ValueError("over_max_per_page must be 'refuse' or 'cap'")

    @property
    def school_ids(self) -> list[int]:
        return list(range(self.first_school_id, self.first_school_id + self.schools))

    @property
    def rate_window_real(self) -> float:
        return self.rate_window / self.time_scale
