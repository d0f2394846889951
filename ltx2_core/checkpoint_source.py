"""One reader for every safetensors checkpoint layout a user has.

`open_checkpoint(path)` accepts a single `.safetensors` file, a sharded set given by its
`*.safetensors.index.json` (Hugging Face `model.safetensors.index.json`, diffusers
`diffusion_pytorch_model.safetensors.index.json`) or by one of its shards, or a model folder holding
either (optionally one level down, in a named subfolder such as diffusers' `transformer/`). It resolves
the layout once, validates it (every header, every shard present, each shard's keys exactly those the
index assigns to it) and hands keys, shapes, metadata and tensors to the model loaders. GGUF files have
their own reader (`ltx2_core.gguf`).
"""

import json
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from .checkpoint import load_safetensors, read_safetensors_header
from .errors import CheckpointError, UnsupportedFormatError

INDEX_SUFFIX = ".safetensors.index.json"
SHARD_NAME = re.compile(r"^(?P<stem>.+)-(?P<number>\d{5})-of-(?P<count>\d{5})\.safetensors$")
STANDARD_STEMS = ("diffusion_pytorch_model", "model")  # diffusers, Hugging Face
_REDOWNLOAD = "Download the index and all its shards again, together, into one folder."


def _names(paths: Iterable[str], limit: int = 6) -> str:
    names = sorted(os.path.basename(p) for p in paths)
    return ", ".join(names[:limit]) + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


@dataclass(frozen=True)
class CheckpointSource:
    """A resolved, validated safetensors checkpoint (one file or a sharded set).

    `path`: what was opened; `files`: the safetensors files in order; `folder`: the model folder (where a
    `config.json` belongs) or None for a loose file; `index`: the index file of a sharded set, or None."""

    path: str
    files: Tuple[str, ...]
    folder: Optional[str]
    index: Optional[str]
    entries: Mapping[str, dict]  # key -> header entry ({"dtype", "shape", "data_offsets"})
    key_files: Mapping[str, str]  # key -> the file holding it
    metadata: Mapping[str, str]  # the `__metadata__` strings (merged over the shards)

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip(os.sep)) or self.path

    @property
    def sharded(self) -> bool:
        return self.index is not None

    def keys(self) -> List[str]:
        return list(self.entries)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def shapes(self) -> Dict[str, tuple]:
        return {k: tuple(v["shape"]) for k, v in self.entries.items()}

    def dtypes(self) -> Dict[str, str]:
        return {k: str(v["dtype"]) for k, v in self.entries.items()}

    def config_metadata(self) -> Optional[dict]:
        """The JSON `config` metadata entry (the official files' model config), or None when absent."""
        raw = self.metadata.get("config")
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{self.name}: metadata 'config' is not valid JSON ({exc}). "
                                  "Re-download it.") from None

    def folder_config(self, name: str = "config.json") -> Optional[dict]:
        """The folder's `config.json` (diffusers / Hugging Face model config), or None when there is none."""
        if self.folder is None:
            return None
        path = os.path.join(self.folder, name)
        if not os.path.isfile(path):
            return None
        try:
            with open(path, "r", encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"Unreadable {name} in {self.folder!r} ({exc}). Re-download it.") from None
        if not isinstance(config, dict):
            raise CheckpointError(f"{name} in {self.folder!r} is not a JSON object. Re-download it.")
        return config

    def load(self, keys: Optional[Iterable[str]] = None, device="cpu") -> Dict[str, torch.Tensor]:
        """Tensors of `keys` (all when None), each read from its own shard."""
        wanted = self.keys() if keys is None else list(keys)
        absent = [k for k in wanted if k not in self.entries]
        if absent:
            raise CheckpointError(f"{self.name} has no tensor(s) {', '.join(sorted(absent)[:6])}. Check the file.")
        by_file: Dict[str, List[str]] = {}
        for key in wanted:
            by_file.setdefault(self.key_files[key], []).append(key)
        tensors = {}
        for file, file_keys in by_file.items():
            tensors.update(load_safetensors(file, keys=file_keys, device=str(device)))
        return {key: tensors[key] for key in wanted}


def open_checkpoint(path, *, subfolders: Sequence[str] = (), what: str = "checkpoint") -> CheckpointSource:
    """Resolve and validate the safetensors checkpoint at `path` (file, index file, shard or folder).

    `subfolders` names the folders a multi-model folder keeps this model in (e.g. ("transformer",) for a
    diffusers pipeline folder); they are searched when `path` itself holds no weights. `what` names the
    model in messages."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return _open_folder(path, subfolders, what)
    if not os.path.isfile(path):
        raise CheckpointError(f"The {what} was not found: {path!r}. Check the path or the models folder.")
    if path.endswith(".gguf") or _starts_with(path, b"GGUF"):
        raise UnsupportedFormatError(
            f"{os.path.basename(path)} is a GGUF file: load it with the GGUF loader (ltx2_core.gguf: "
            "load_transformer_gguf / load_gemma_gguf)."
        )
    if path.endswith(INDEX_SUFFIX):
        return _open_index(path, what)
    shard = SHARD_NAME.match(os.path.basename(path))
    if shard:
        return _open_shard(path, shard, what)
    return _single(path, os.path.dirname(os.path.abspath(path)))


def _starts_with(path: str, magic: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(magic)) == magic


def _single(file: str, folder: Optional[str]) -> CheckpointSource:
    header = read_safetensors_header(file)
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    metadata = {str(k): str(v) for k, v in (header.get("__metadata__") or {}).items()}
    return CheckpointSource(path=file, files=(file,), folder=folder, index=None, entries=entries,
                            key_files={k: file for k in entries}, metadata=metadata)


def _open_folder(folder: str, subfolders: Sequence[str], what: str) -> CheckpointSource:
    indexes = sorted(n for n in os.listdir(folder) if n.endswith(INDEX_SUFFIX))
    if len(indexes) > 1:
        standard = [n for n in indexes if n[: -len(INDEX_SUFFIX)] in STANDARD_STEMS]
        if len(standard) != 1:
            raise CheckpointError(f"{folder!r} holds several shard indexes ({', '.join(indexes)}): give the index "
                                  f"file of the {what} instead of the folder.")
        indexes = standard
    if indexes:
        return _open_index(os.path.join(folder, indexes[0]), what)
    files = sorted(n for n in os.listdir(folder) if n.endswith(".safetensors"))
    for stem in STANDARD_STEMS:
        if f"{stem}.safetensors" in files:
            return _single(os.path.join(folder, f"{stem}.safetensors"), folder)
    shards = [n for n in files if SHARD_NAME.match(n)]
    if shards:
        return _open_shard(os.path.join(folder, shards[0]), SHARD_NAME.match(shards[0]), what)
    if len(files) == 1:
        return _single(os.path.join(folder, files[0]), folder)
    if files:
        raise CheckpointError(f"{folder!r} holds several safetensors files ({_names(files)}) and no shard index: "
                              f"give the {what} file itself.")
    for sub in subfolders:
        if os.path.isdir(os.path.join(folder, sub)):
            return _open_folder(os.path.join(folder, sub), (), what)
    raise CheckpointError(f"No safetensors weights in {folder!r}. Point to the {what} file or to its model folder.")


def _open_shard(path: str, match: "re.Match", what: str) -> CheckpointSource:
    """A shard named `<stem>-0000i-of-0000n.safetensors`: the whole set when its index and every shard are
    present beside it, else an error naming what is missing."""
    folder = os.path.dirname(os.path.abspath(path))
    stem, count = match.group("stem"), int(match.group("count"))
    index = os.path.join(folder, stem + INDEX_SUFFIX)
    if os.path.isfile(index):
        listed = set(_weight_map(index).values())
        if os.path.basename(path) not in listed:
            raise CheckpointError(f"{os.path.basename(path)} is not listed in {os.path.basename(index)}: the shard "
                                  f"and the index come from different downloads. {_REDOWNLOAD}")
        expected = [os.path.join(folder, name) for name in sorted(listed)]
    else:
        expected = [os.path.join(folder, f"{stem}-{i:05d}-of-{count:05d}.safetensors") for i in range(1, count + 1)]
    missing = [f for f in expected if not os.path.isfile(f)]
    if missing or not os.path.isfile(index):
        absent = [os.path.basename(f) for f in ([] if os.path.isfile(index) else [index]) + missing]
        raise CheckpointError(
            f"{os.path.basename(path)} is one shard of a {len(expected)}-part {what}; missing beside it: "
            f"{', '.join(absent)}. Put the index {os.path.basename(index)} and every shard in one folder, then give "
            "that folder (or the index file)."
        )
    return _open_index(index, what)


def _weight_map(index: str) -> Dict[str, str]:
    name = os.path.basename(index)
    try:
        with open(index, "r", encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Unreadable shard index {name} ({exc}). {_REDOWNLOAD}") from None
    weight_map = content.get("weight_map") if isinstance(content, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"Shard index {name} has no 'weight_map'. {_REDOWNLOAD}")
    for key, file in weight_map.items():
        if not isinstance(file, str) or os.path.isabs(file) or ".." in file.replace("\\", "/").split("/"):
            raise CheckpointError(f"Shard index {name} maps {key!r} to {file!r}, which is not a file in its folder. "
                                  f"{_REDOWNLOAD}")
    return weight_map


def _open_index(index: str, what: str) -> CheckpointSource:
    folder = os.path.dirname(os.path.abspath(index))
    name = os.path.basename(index)
    weight_map = _weight_map(index)
    files = sorted(set(weight_map.values()))
    missing = [f for f in files if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise CheckpointError(f"{name} lists {len(files)} shard(s) of the {what}; missing: {_names(missing)}. "
                              "Download every shard the index lists into its folder.")
    entries, key_files, metadata = {}, {}, {}
    for file in files:
        full = os.path.join(folder, file)
        header = read_safetensors_header(full)
        keys = {k for k in header if k != "__metadata__"}
        listed = {k for k, f in weight_map.items() if f == file}
        if keys != listed:
            problems = []
            if listed - keys:
                problems.append(f"lacks {len(listed - keys)} key(s) the index assigns to it ({_names(listed - keys)})")
            if keys - listed:
                problems.append(f"holds {len(keys - listed)} key(s) the index does not assign to it "
                                f"({_names(keys - listed)})")
            raise CheckpointError(f"Shard {file} disagrees with {name}: it {' and '.join(problems)}. {_REDOWNLOAD}")
        for key in sorted(keys):
            entries[key] = header[key]
            key_files[key] = full
        for k, v in (header.get("__metadata__") or {}).items():
            metadata.setdefault(str(k), str(v))
    return CheckpointSource(path=index, files=tuple(os.path.join(folder, f) for f in files), folder=folder,
                            index=index, entries=entries, key_files=key_files, metadata=metadata)
