"""One experiment, one config file: ``conf/experiment/<x>.yaml`` holds the laptop sizes and, under its top-level key
``profiles:``, what each other profile changes (``profiles: {ci: {...}, paper: {...}}``). Hydra reads that file
through this config source, which serves

- ``experiment/<x>`` as the file without its ``profiles:`` block (the laptop sizes, as before), and
- ``experiment/<x>/<p>`` as the block ``profiles.<p>``: the config that the experiment's defaults entry
  ``optional <x>@_here_: ${profile}`` merges over it, key by key,

so every key is still a plain YAML value that any override (``-S x.y=…``), selection or ``dvc params diff`` reaches,
whatever the profile; the merge is Hydra's own. Hydra imports every module under ``hydra_plugins`` when it starts
(DVC's composition for ``dvc exp run`` included), and :class:`ProfileBlocks` then swaps the primary config folder's
``file://`` source for this one wherever that folder holds the file ``.profile-blocks`` (hebbdam's ``conf/``); any
other folder is read as Hydra reads it. A block entry named after no option of the ``profile`` group, or not a
mapping, is refused with a line naming the file.
"""

from __future__ import annotations

import copy
import functools
import io
import os
from typing import Any

import yaml
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import OmegaConf
from omegaconf._utils import get_yaml_loader

from hebbdam.validation import PROFILE_BLOCK as BLOCK  # the key of an experiment file that holds the ci and paper sizes

GROUP = "experiment"  # the group whose files may hold it
SCHEME = "hebbdam-profiles"
MARKER = ".profile-blocks"  # the file that asks for this source in a config folder


@functools.lru_cache(maxsize=256)
def document(path: str, modified: int, changed: int, size: int) -> tuple[str, Any]:
    """The text of the YAML file ``path`` and its document as OmegaConf's loader reads it (plain containers), read
    once per version of the file (``modified``, ``changed``: its mtime and ctime in ns, ``size``; a copy that keeps the
    mtime cannot keep the ctime): Hydra asks after a file many times per composition."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    stream = io.StringIO(text)
    stream.name = path  # YAML's errors name the file, as Hydra's file source's do
    return text, yaml.load(stream, Loader=get_yaml_loader())


def read(path: str) -> tuple[str, Any]:
    """:func:`document` of ``path`` as it is now: (text, a copy of its document, free to change)."""
    status = os.stat(path)
    text, parsed = document(path, status.st_mtime_ns, status.st_ctime_ns, status.st_size)
    return text, copy.deepcopy(parsed)


class ProfiledConfigSource(ConfigSource):
    """A config folder read as Hydra's file source reads it, with each ``experiment/<x>.yaml``'s ``profiles:``
    block split off into the configs ``experiment/<x>/<profile>``."""

    def __init__(self, provider: str, path: str) -> None:
        super().__init__(provider=provider, path=path if "://" in path else f"{SCHEME}://{path}")

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def _file(self, config_path: str) -> str:
        return os.path.realpath(os.path.join(self.path, self._normalize_file_name(config_path)))

    def _blocks(self, group_path: str) -> dict | None:
        """The ``profiles:`` mapping of the experiment file ``group_path``.yaml (``experiment/<x>``), or None."""
        parent, _, name = group_path.strip("/").rpartition("/")
        path = self._file(group_path)
        if parent != GROUP or not name or name.endswith(".yaml") or not os.path.isfile(path):
            return None
        parsed = read(path)[1]
        blocks = parsed.get(BLOCK) if isinstance(parsed, dict) else None
        if blocks is not None and not isinstance(blocks, dict):
            raise ConfigLoadError(f"{path}: `{BLOCK}:` must map profile names to their sizes")
        profiles = self._profiles()
        for profile, sizes in (blocks or {}).items():
            if profile not in profiles:  # `optional` would skip it silently
                raise ConfigLoadError(f"{path}: `{BLOCK}: {profile}:` names no profile ({', '.join(profiles)})")
            if sizes is not None and not isinstance(sizes, dict):
                raise ConfigLoadError(f"{path}: `{BLOCK}: {profile}:` must map keys to sizes, not {sizes!r}")
        return blocks

    def _profiles(self) -> list[str]:
        """The options of the folder's ``profile`` group (its file names)."""
        folder = os.path.join(self.path, "profile")
        names = os.listdir(folder) if os.path.isdir(folder) else []
        return sorted(name.removesuffix(".yaml") for name in names if name.endswith(".yaml"))

    def _block(self, config_path: str) -> tuple[str, dict] | None:
        """(profile, its sizes) where ``config_path`` is ``experiment/<x>/<profile>`` of a file's block, else None."""
        group_path, _, profile = config_path.strip("/").removesuffix(".yaml").rpartition("/")
        blocks = self._blocks(group_path) if group_path else None
        if blocks is None or profile not in blocks:
            return None
        return profile, blocks[profile]

    def load_config(self, config_path: str) -> ConfigResult:
        full_path = self._file(config_path)
        if os.path.isfile(full_path):
            text, parsed = read(full_path)
            if config_path.strip("/").startswith(f"{GROUP}/") and isinstance(parsed, dict):
                parsed.pop(BLOCK, None)
            return ConfigResult(config=OmegaConf.create({} if parsed is None else parsed), path=self.full_path(),
                                provider=self.provider, header=ConfigSource._get_header_dict(text))  # fmt: skip
        block = self._block(config_path)
        if block is None:
            raise ConfigLoadError(f"Config not found : {full_path}")
        config = OmegaConf.create({} if block[1] is None else block[1])
        return ConfigResult(config=config, path=self.full_path(), provider=self.provider, header={"package": None})

    def available(self) -> bool:
        return self.is_group("")

    def is_group(self, config_path: str) -> bool:
        return os.path.isdir(os.path.join(self.path, config_path)) or self._blocks(config_path) is not None

    def is_config(self, config_path: str) -> bool:
        return os.path.isfile(self._file(config_path)) or self._block(config_path) is not None

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        files: list[str] = []
        folder = os.path.realpath(os.path.join(self.path, config_path))
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            self._list_add_result(files, os.path.join(config_path, name), name, results_filter)
            stem = name.removesuffix(".yaml")
            grouping = name.endswith(".yaml") and results_filter in (None, ObjectType.GROUP)
            if grouping and self._blocks(os.path.join(config_path, stem)) is not None:
                files.append(stem)  # an experiment file with a block is a group too
        if results_filter in (None, ObjectType.CONFIG):
            files.extend(self._blocks(config_path) or {})
        return sorted(set(files))


class ProfileBlocks(SearchPathPlugin):
    """Reads the primary config folder through :class:`ProfiledConfigSource` where it holds the file ``MARKER``
    (hebbdam's ``conf/``); any other Hydra app of this environment is left as it is."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for element in search_path.get_path():
            folder = (element.path or "").removeprefix("file://")
            if element.provider == "main" and "://" not in folder and os.path.isfile(os.path.join(folder, MARKER)):
                element.path = f"{SCHEME}://{folder}"
