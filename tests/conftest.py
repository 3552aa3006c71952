# Local provider world fixture (anibridge/devworld/testing.py): `devworld` yields a RunningWorld.
from anibridge.devworld.testing import devworld  # noqa: F401
