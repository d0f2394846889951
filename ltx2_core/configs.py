"""Small helpers shared by the model configs: metadata sections, sizes read off key names, field checks."""

from typing import Iterable, List, Mapping, Optional

from .errors import CheckpointError


def metadata_section(config: Mapping, name: str, error: Optional[str] = None) -> Mapping:
    """`config[name]` of a full metadata `config` dict, or `config` itself when it is already that section.

    A section that is not a JSON object raises `CheckpointError` (`error`, or a default message)."""
    section = config.get(name, config)
    if not isinstance(section, Mapping):
        raise CheckpointError(error or f"Metadata '{name}' section is not a JSON object.")
    return section


def key_indices(keys: Iterable[str], prefix: str) -> List[int]:
    """Sorted distinct integers `i` of the keys `{prefix}{i}.*` (layer, block or level numbers)."""
    found = set()
    for key in keys:
        if key.startswith(prefix):
            head = key[len(prefix):].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def non_positive(config, names: Iterable[str]) -> List[str]:
    """The fields among `names` whose value on `config` is not positive."""
    return [name for name in names if getattr(config, name) <= 0]
