"""Typed resource classes, one method per API operation (generated from the spec)."""

from ._base import CallOptions, DateArg, Resource
from ._generated import SDK_CALLS

__all__ = ["SDK_CALLS", "CallOptions", "DateArg", "Resource"]
