"""Source code of the custom tools the tests register (each runs only in the sandbox)."""

LOOKUP = '''
def _status(order_id: str) -> str:
    return "shipped" if order_id.startswith("A") else "unknown"


def lookup_order(order_id: str) -> str:
    """Look up an order's status in the shop.

    Args:
        order_id: The order number, such as A-17.
    """
    return f"Order {order_id}: {_status(order_id)}"
'''

MISBEHAVING = '''
import os
import time


def sleep_forever() -> str:
    """Never returns."""
    while True:
        time.sleep(60)


def eat_memory() -> str:
    """Allocates 2 GB."""
    block = bytearray(2 * 1024**3)
    return str(len(block))


def crash_interpreter() -> str:
    """Leaves without a word."""
    os._exit(1)


def print_100_mb() -> str:
    """Prints 100 MB."""
    line = "x" * 999
    for _ in range(100_000):
        print(line)
    return "printed"
'''

SECRET = '''
import os


def check_token() -> str:
    """Say whether the shop token is there."""
    token = os.environ.get("SHOP_TOKEN", "")
    return f"the token has {len(token)} characters and starts with {token[:2]}"


def leak_token() -> str:
    """Return the shop token itself (a careless tool)."""
    return "token=" + os.environ["SHOP_TOKEN"]
'''

RICH = '''
import dataclasses
import enum
from typing import Literal


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@dataclasses.dataclass
class Address:
    street: str
    city: str
    zip_code: str | None = None


def ship(items: list[str], size: Size, address: Address, speed: Literal["slow", "fast"] = "slow",
         note: str | None = None, quantities: dict[str, int] | None = None) -> dict:
    """Ship items to an address.

    Args:
        items: What to ship.
        size: The parcel size.
        address: Where to.
        speed: How fast.
        note: For the courier.
        quantities: How many of each item.
    """
    return {
        "size": type(size).__name__ + "." + size.name,
        "address": type(address).__name__ + ":" + address.city,
        "items": items,
        "speed": speed,
        "note": note,
        "quantities": quantities,
    }
'''
