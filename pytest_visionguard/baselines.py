"""The baseline file: stored per-group figures with provenance, read and written atomically.

A baseline file is JSON that is committed with the code. It contains one
entry per regression figure (a metric, its grouping, corruption and
evaluation set). Each entry contains the figure of every group and the
provenance of the run that recorded it: the weights and data fingerprints,
the seed, the device and the package versions. The file contains no
timestamps or host names and is written with sorted keys, so an unchanged
run writes the same bytes.

`pytest_visionguard.regression` compares a run with these entries. This
module imports only the standard library at load time, because the plugin
reads and writes baselines on the pytest-xdist controller, which never runs
a model.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import tempfile
import weakref
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import TypeGuard

from pytest_visionguard.errors import VisionGuardError

if TYPE_CHECKING:
    import numpy as np

    from pytest_visionguard.guard import VisionGuard

FILE_FORMAT = "pytest-visionguard-baseline"
FILE_VERSION = 1
DEFAULT_BASELINE_NAME = "visionguard-baseline.json"
UPDATE_FLAG = "--visionguard-update-baseline"
REGENERATE_FLAG = "--visionguard-regenerate-baseline"

BaselineMode = Literal["compare", "update", "regenerate"]
BASELINE_MODES = ("compare", "update", "regenerate")


@dataclass(frozen=True)
class GroupFigure:
    """One group's stored figure.

    Attributes:
        value: the point estimate; NaN (null in the file) when undefined.
        n: the number of samples the figure was computed on.
        ci_low: the lower end of its interval.
        ci_high: the upper end of its interval.
        successes: the numerator k of a proportion k / n, or None for F1.
    """

    value: float
    n: int
    ci_low: float
    ci_high: float
    successes: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the figure as a JSON object, NaN written as null."""
        return {
            "value": float_or_none(self.value),
            "n": self.n,
            "ci_low": float_or_none(self.ci_low),
            "ci_high": float_or_none(self.ci_high),
            "successes": self.successes,
        }

    @classmethod
    def from_json(cls, payload: Any, where: str) -> GroupFigure:
        """Read a figure written by `to_json`, raising VisionGuardError when malformed."""
        if not isinstance(payload, dict):
            raise _malformed(where, "a group figure must be an object")
        successes = payload.get("successes")
        if successes is not None and not _is_count(successes):
            raise _malformed(where, f"successes must be a count, got {successes!r}")
        n = payload.get("n")
        if not _is_count(n):
            raise _malformed(where, f"n must be a count, got {n!r}")
        return cls(
            value=_read_float(payload, "value", where),
            n=int(n),
            ci_low=_read_float(payload, "ci_low", where),
            ci_high=_read_float(payload, "ci_high", where),
            successes=None if successes is None else int(successes),
        )


@dataclass(frozen=True)
class Provenance:
    """The origin of a baseline entry's figures.

    Attributes:
        model: the weights fingerprint (`model.model_fingerprint`).
        data: the evaluation set fingerprint (`EvalSet.fingerprint()`).
        seed: the seed of corruptions and bootstrap intervals.
        device: the torch device inference ran on, such as "cpu" or "cuda:0".
        versions: package name -> version of torch, numpy and
            pytest-visionguard.
    """

    model: str
    data: str
    seed: int
    device: str
    versions: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """Return the provenance as a JSON object."""
        return {
            "model": self.model,
            "data": self.data,
            "seed": self.seed,
            "device": self.device,
            "versions": dict(self.versions),
        }

    @classmethod
    def from_json(cls, payload: Any, where: str) -> Provenance:
        """Read provenance written by `to_json`, raising VisionGuardError when malformed."""
        if not isinstance(payload, dict):
            raise _malformed(where, "provenance must be an object")
        versions = payload.get("versions", {})
        if not isinstance(versions, dict):
            raise _malformed(where, "provenance.versions must be an object")
        seed = payload.get("seed")
        if not _is_count(seed):
            raise _malformed(where, f"provenance.seed must be a count, got {seed!r}")
        return cls(
            model=_read_str(payload, "model", where),
            data=_read_str(payload, "data", where),
            seed=int(seed),
            device=_read_str(payload, "device", where),
            versions={str(key): str(value) for key, value in versions.items()},
        )


@dataclass(frozen=True)
class PerImageOutcomes:
    """Each image's outcome for a paired comparison, packed one bit per image.

    Attributes:
        n_images: the number of images in the evaluation set.
        hits: base64 of `numpy.packbits` of a boolean per image: whether the
            image counts towards the metric's numerator (for accuracy,
            whether it was classified correctly).
    """

    n_images: int
    hits: str

    def to_json(self) -> dict[str, Any]:
        """Return the outcomes as a JSON object."""
        return {"n_images": self.n_images, "hits": self.hits}

    @classmethod
    def from_json(cls, payload: Any, where: str) -> PerImageOutcomes:
        """Read outcomes written by `to_json`, raising VisionGuardError when malformed."""
        if not isinstance(payload, dict) or not _is_count(payload.get("n_images")):
            raise _malformed(where, "paired must be an object with n_images and hits")
        hits = _read_str(payload, "hits", where)
        n_images = int(payload["n_images"])
        try:
            decoded = base64.b64decode(hits.encode("ascii"), validate=True)
        except ValueError as error:
            raise _malformed(where, f"paired.hits is not base64: {error}") from None
        if len(decoded) != (n_images + 7) // 8:
            raise _malformed(
                where,
                f"paired.hits holds {len(decoded)} bytes, expected "
                f"{(n_images + 7) // 8} for {n_images} images",
            )
        return cls(n_images, hits)

    @classmethod
    def pack(cls, hits: np.ndarray) -> PerImageOutcomes:
        """Pack a boolean array, one entry per image."""
        import numpy as np

        packed = np.packbits(np.asarray(hits, dtype=bool))
        return cls(int(hits.shape[0]), base64.b64encode(packed.tobytes()).decode())

    def unpack(self) -> np.ndarray:
        """Return the boolean array, one entry per image."""
        import numpy as np

        packed = np.frombuffer(base64.b64decode(self.hits), dtype=np.uint8)
        return np.unpackbits(packed, count=self.n_images).astype(bool)


@dataclass(frozen=True)
class BaselineEntry:
    """The stored figures of one regression figure, per group.

    Attributes:
        metric: the rate metric, such as "accuracy".
        positive: the positive class name of a per-class metric, else None.
        by: the grouping columns.
        corruption: the corruption the figure is measured under, or None.
        severity: its severity, or None.
        data_name: the evaluation set's `name`.
        params: the test's parameter ids (`name=value`), so that
            parametrised model and data fixtures keep separate entries.
        confidence: the level of the stored intervals.
        groups: group label -> figure.
        provenance: fingerprints, seed, device and versions of the run.
        paired: per-image outcomes, stored when the gate asked for a paired
            comparison.
    """

    metric: str
    positive: str | None
    by: tuple[str, ...]
    corruption: str | None
    severity: int | None
    data_name: str
    params: dict[str, str]
    confidence: float
    groups: dict[str, GroupFigure]
    provenance: Provenance
    paired: PerImageOutcomes | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the entry as a JSON object; `paired` is left out when absent."""
        payload: dict[str, Any] = {
            "metric": self.metric,
            "positive": self.positive,
            "by": list(self.by),
            "corruption": self.corruption,
            "severity": self.severity,
            "data": self.data_name,
            "params": dict(self.params),
            "confidence": self.confidence,
            "groups": {label: g.to_json() for label, g in self.groups.items()},
            "provenance": self.provenance.to_json(),
        }
        if self.paired is not None:
            payload["paired"] = self.paired.to_json()
        return payload

    @classmethod
    def from_json(cls, payload: Any, where: str) -> BaselineEntry:
        """Read an entry written by `to_json`, raising VisionGuardError when malformed."""
        if not isinstance(payload, dict):
            raise _malformed(where, "an entry must be an object")
        groups = payload.get("groups")
        if not isinstance(groups, dict):
            raise _malformed(where, "groups must be an object of group figures")
        by = payload.get("by", [])
        if not isinstance(by, list) or not all(isinstance(c, str) for c in by):
            raise _malformed(where, f"by must be a list of column names, got {by!r}")
        params = payload.get("params", {})
        if not isinstance(params, dict):
            raise _malformed(where, "params must be an object")
        severity = payload.get("severity")
        if severity is not None and not _is_count(severity):
            raise _malformed(where, f"severity must be an integer, got {severity!r}")
        confidence = _read_float(payload, "confidence", where)
        if not 0.0 < confidence < 1.0:
            raise _malformed(where, f"confidence must be in (0, 1), got {confidence}")
        paired = payload.get("paired")
        return cls(
            metric=_read_str(payload, "metric", where),
            positive=_read_optional_str(payload, "positive", where),
            by=tuple(by),
            corruption=_read_optional_str(payload, "corruption", where),
            severity=None if severity is None else int(severity),
            data_name=_read_str(payload, "data", where),
            params={str(key): str(value) for key, value in params.items()},
            confidence=confidence,
            groups={
                str(label): GroupFigure.from_json(figure, f"{where}, group {label!r}")
                for label, figure in groups.items()
            },
            provenance=Provenance.from_json(payload.get("provenance"), where),
            paired=None
            if paired is None
            else PerImageOutcomes.from_json(paired, where),
        )


@dataclass
class BaselineFile:
    """The entries of a baseline file, read from disk or about to be written.

    Attributes:
        path: where the file lives.
        entries: entry key -> entry.
        exists: whether the file existed when it was read.
    """

    path: Path
    entries: dict[str, BaselineEntry] = field(default_factory=dict)
    exists: bool = False

    @classmethod
    def load(cls, path: Path) -> BaselineFile:
        """Read a baseline file; a file that does not exist reads as empty.

        Raises:
            VisionGuardError: when the file is not valid JSON, is not a
                pytest-visionguard baseline, was written by a newer format, or
                has a malformed entry. The file is never modified.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as error:
            raise VisionGuardError(
                f"cannot read the baseline file {path}: {error}"
            ) from None
        return cls(path, _parse_entries(path, text), exists=True)

    def render(self) -> str:
        """Return the file's text: sorted JSON, indented by 2, ending in a newline."""
        return render_baseline(self.entries)


def render_baseline(entries: Mapping[str, BaselineEntry]) -> str:
    """Return the text of a baseline file holding `entries`."""
    payload = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "entries": {key: entry.to_json() for key, entry in entries.items()},
    }
    return json.dumps(payload, sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_atomically(path: Path, data: str | bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part.

    The data goes to a temporary file in the same directory, is flushed to
    disk and then renamed over `path` with `os.replace`, which is atomic on
    POSIX and Windows. On any error the temporary file is removed and `path`
    keeps its old content. A new file gets mode 0644; a replaced file keeps
    its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@dataclass(frozen=True)
class EntryOutcome:
    """The result of one regression gate for its baseline entry.

    The pytest plugin sends one per gate from the worker that ran it to the
    controller, which writes the recorded entries once and reports the
    rest.

    Attributes:
        key: the entry key.
        status: "matched", "regressed", "missing" or "recorded".
        reason: why the entry was recorded: "missing" (no usable entry),
            "failing" (the gate failed against it) or "regenerate" (every
            entry is rewritten); None when nothing was recorded.
        entry: the recorded entry, or None.
        notes: fingerprint changes and other facts worth a warning.
        changes: group label -> the baseline figure and the change from it.
        test: the test id, or None outside pytest.
    """

    key: str
    status: str
    reason: str | None = None
    entry: BaselineEntry | None = None
    notes: tuple[str, ...] = ()
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    test: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the outcome as a JSON object, the form sent from pytest-xdist workers."""
        payload: dict[str, Any] = {
            "key": self.key,
            "status": self.status,
            "reason": self.reason,
            "notes": list(self.notes),
            "changes": self.changes,
        }
        if self.entry is not None:
            payload["entry"] = self.entry.to_json()
        return payload

    @classmethod
    def from_json(cls, payload: Any, test: str | None) -> EntryOutcome:
        """Read an outcome sent by `to_json`."""
        where = f"the baseline outcome sent by {test}"
        if not isinstance(payload, dict):
            raise _malformed(where, "expected an object")
        key = _read_str(payload, "key", where)
        entry = payload.get("entry")
        notes = payload.get("notes", [])
        changes = payload.get("changes", {})
        if not isinstance(notes, list) or not isinstance(changes, dict):
            raise _malformed(where, "notes must be a list and changes an object")
        return cls(
            key=key,
            status=_read_str(payload, "status", where),
            reason=_read_optional_str(payload, "reason", where),
            entry=None
            if entry is None
            else BaselineEntry.from_json(entry, f"{where} ({key})"),
            notes=tuple(str(note) for note in notes),
            changes=changes,
            test=test,
        )


class BaselineSession:
    """One process's view of a baseline file and of the gates that used it.

    Gates read entries through `entry`, which loads the file on first use,
    and report each outcome to `record` (through their binding). Outside
    pytest, call `save` at the end; under pytest the plugin collects the
    outcomes from every worker and saves once, on the controller.

    Args:
        path: the baseline file.
        mode: "compare" (write nothing), "update" (record missing and
            failing entries) or "regenerate" (record every entry).
        path_option: the command-line option that selects `path`, when it
            is not the default, for the commands in messages.
    """

    def __init__(
        self, path: Path, mode: BaselineMode = "compare", *, path_option: str = ""
    ) -> None:
        if mode not in BASELINE_MODES:
            raise VisionGuardError(
                f"baseline mode must be one of {', '.join(BASELINE_MODES)}, got {mode!r}"
            )
        self.path = path
        self.mode: BaselineMode = mode
        self.path_option = path_option
        self.outcomes: list[EntryOutcome] = []
        self._file: BaselineFile | None = None

    @property
    def file(self) -> BaselineFile:
        """The baseline file as read from disk, loaded on first use."""
        if self._file is None:
            self._file = BaselineFile.load(self.path)
        return self._file

    def entry(self, key: str) -> BaselineEntry | None:
        """Return the stored entry for `key`, or None when there is none."""
        return self.file.entries.get(key)

    def record(self, outcome: EntryOutcome) -> None:
        """Keep a gate's outcome for `save`."""
        self.outcomes.append(outcome)

    def update_command(self, test: str | None) -> str:
        """Return the command that records the entries of `test` (or of every test)."""
        parts = ["pytest", UPDATE_FLAG]
        if self.path_option:
            parts.append(self.path_option)
        if test:
            parts.append(_shell_quote(test))
        return " ".join(parts)

    def save(self) -> list[EntryOutcome]:
        """Write the recorded entries into the file atomically and return them.

        Raises:
            VisionGuardError: when the file is malformed (it is left as it
                is) or two gates recorded different figures under one key.
        """
        written = recorded_entries(self.outcomes)
        if written:
            entries = dict(self.file.entries)
            entries.update({o.key: o.entry for o in written if o.entry is not None})
            write_if_changed(self.path, render_baseline(entries))
            self._file = BaselineFile(self.path, entries, exists=True)
        self.outcomes = []
        return written


def recorded_entries(outcomes: Iterable[EntryOutcome]) -> list[EntryOutcome]:
    """Return one outcome per recorded key, sorted, the first by test id for a shared key.

    When gates with and without `paired=True` record one key, the entry
    with per-image outcomes wins; the figures must agree either way.

    Raises:
        VisionGuardError: when two tests record different figures under
            one key, which means the key misses part of the figure's
            identity.
    """
    chosen: dict[str, EntryOutcome] = {}
    recorded = [o for o in outcomes if o.entry is not None]
    for outcome in sorted(recorded, key=lambda o: (o.key, o.test or "")):
        first = chosen.setdefault(outcome.key, outcome)
        if _comparable(first) != _comparable(outcome):
            raise VisionGuardError(
                f"baseline entry {outcome.key!r} was recorded with different figures "
                f"by {first.test} and {outcome.test}; give the evaluation sets "
                "distinct names (EvalSet(name=...)) or parametrise the model "
                "fixture, so that the entries get distinct keys"
            )
        assert first.entry is not None and outcome.entry is not None
        if first.entry.paired is None and outcome.entry.paired is not None:
            chosen[outcome.key] = outcome
    return [chosen[key] for key in sorted(chosen)]


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file contains it already; return whether it wrote."""
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return False
    write_atomically(path, text)
    return True


# Binding gates to a baseline


@dataclass
class BaselineBinding:
    """The baseline context of one `VisionGuard`: its file, test and parameters.

    Attributes:
        session: the baseline file and mode.
        test: the test id, for the command in messages, or None.
        params: the test's parameter ids, part of every entry key.
        send: called with each gate's outcome; by default
            `session.record`.
    """

    session: BaselineSession
    test: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    send: Callable[[EntryOutcome], None] | None = None

    def emit(self, outcome: EntryOutcome) -> None:
        """Pass a gate's outcome to `send`, or keep it in the session."""
        (self.send or self.session.record)(outcome)


_BINDINGS: weakref.WeakKeyDictionary[VisionGuard, BaselineBinding] = (
    weakref.WeakKeyDictionary()
)


def bind_baseline(
    guard: VisionGuard, binding: BaselineBinding | BaselineSession
) -> None:
    """Give `guard.assert_no_regression` a baseline file.

    The pytest plugin binds every `visionguard` fixture. Outside pytest:

        session = BaselineSession(Path("visionguard-baseline.json"), mode="update")
        bind_baseline(guard, session)
        guard.assert_no_regression(by="site")
        session.save()
    """
    if isinstance(binding, BaselineSession):
        binding = BaselineBinding(binding)
    _BINDINGS[guard] = binding


def binding_for(guard: VisionGuard) -> BaselineBinding:
    """Return the baseline bound to `guard`.

    Raises:
        VisionGuardError: when none is bound.
    """
    binding = _BINDINGS.get(guard)
    if binding is None:
        raise VisionGuardError(
            "assert_no_regression needs a baseline file: under pytest the plugin "
            "binds one (--visionguard-baseline); elsewhere call "
            "pytest_visionguard.baselines.bind_baseline(guard, BaselineSession(path))"
        )
    return binding


def _comparable(outcome: EntryOutcome) -> str:
    """Return an entry's figures as text, leaving out its per-image outcomes."""
    assert outcome.entry is not None
    payload = outcome.entry.to_json()
    payload.pop("paired", None)
    return json.dumps(payload, sort_keys=True)


def _parse_entries(path: Path, text: str) -> dict[str, BaselineEntry]:
    hint = (
        f"the file was left unchanged; fix it (git diff {path} shows the last "
        "change), or delete it and run pytest " + REGENERATE_FLAG
    )
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        raise VisionGuardError(
            f"the baseline file {path} is not valid JSON ({error}); {hint}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise VisionGuardError(
            f"{path} is not a pytest-visionguard baseline file (it has no "
            f'"format": "{FILE_FORMAT}"); it was left unchanged. Point '
            "--visionguard-baseline at another path, or move the file away"
        )
    version = payload.get("version")
    if not _is_count(version) or int(version) > FILE_VERSION:
        raise VisionGuardError(
            f"the baseline file {path} has format version {version!r}, but this "
            f"pytest-visionguard reads version {FILE_VERSION}; upgrade "
            "pytest-visionguard"
        )
    entries = payload.get("entries")
    if not isinstance(entries, dict):
        raise VisionGuardError(
            f'the baseline file {path} has no "entries" object; {hint}'
        )
    try:
        return {
            str(key): BaselineEntry.from_json(entry, f"entry {key!r}")
            for key, entry in entries.items()
        }
    except VisionGuardError as error:
        raise VisionGuardError(
            f"the baseline file {path} is malformed: {error}; {hint}"
        ) from None


def float_or_none(value: float) -> float | None:
    """Return `value` as a float, or None when it is NaN or infinite (null in JSON)."""
    return None if value is None or not math.isfinite(value) else float(value)


def _read_float(payload: dict[str, Any], name: str, where: str) -> float:
    value = payload.get(name)
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(where, f"{name} must be a number or null, got {value!r}")
    return float(value)


def _read_str(payload: dict[str, Any], name: str, where: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise _malformed(where, f"{name} must be a string, got {value!r}")
    return value


def _read_optional_str(payload: dict[str, Any], name: str, where: str) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise _malformed(where, f"{name} must be a string or null, got {value!r}")
    return value


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _malformed(where: str, problem: str) -> VisionGuardError:
    return VisionGuardError(f"{where}: {problem}")


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def package_versions() -> dict[str, str]:
    """Return the versions of torch, numpy and pytest-visionguard, read without importing them."""
    from importlib import metadata

    versions = {}
    for name in ("numpy", "pytest-visionguard", "torch"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def stale_keys(file: BaselineFile, checked: Iterable[str]) -> list[str]:
    """Return the keys of entries that no gate of this run checked, sorted."""
    seen = set(checked)
    return sorted(key for key in file.entries if key not in seen)


@dataclass
class BaselineSummary:
    """The effect of a run on its baseline file, for the summary and the reports.

    Attributes:
        path: the baseline file.
        mode: "compare", "update" or "regenerate".
        outcomes: every regression gate's outcome, sorted by test and key.
        written: the recorded entries, one per key.
        changed: whether the file's content changed on disk.
        stale: keys of entries that no gate of this run checked.
        error: why the file could not be read or written, or None.
    """

    path: Path
    mode: str
    outcomes: list[EntryOutcome] = field(default_factory=list)
    written: list[EntryOutcome] = field(default_factory=list)
    changed: bool = False
    stale: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def notes(self) -> list[tuple[str, str, str]]:
        """(test, key, note) for each fingerprint change and similar fact, once each."""
        seen: dict[tuple[str, str, str], None] = {}
        for outcome in self.outcomes:
            for note in outcome.notes:
                seen.setdefault((outcome.test or "", outcome.key, note), None)
        return list(seen)

    def to_json(self) -> dict[str, Any]:
        """Return the summary as a JSON object, without the entries' figures."""
        return {
            "path": str(self.path),
            "mode": self.mode,
            "changed": self.changed,
            "error": self.error,
            "written": [
                {"key": o.key, "reason": o.reason, "test": o.test} for o in self.written
            ],
            "stale": list(self.stale),
            "outcomes": [
                {
                    "test": o.test,
                    "key": o.key,
                    "status": o.status,
                    "reason": o.reason,
                    "notes": list(o.notes),
                    "changes": o.changes,
                }
                for o in self.outcomes
            ],
        }

    def lines(self, *, shown_path: str, verbose: bool) -> list[str]:
        """Return the terminal summary lines; none when there is nothing to report."""
        lines: list[str] = []
        if self.error:
            lines.append(f"error: {self.error}")
        if self.written:
            verb = "wrote" if self.changed else "recorded (the file already held them)"
            count = _plural(len(self.written), "entry", "entries")
            lines.append(f"{verb} {count} to {shown_path}:")
            lines.extend(f"  {o.key} ({o.reason}; {o.test})" for o in self.written)
        if self.stale:
            count = _plural(len(self.stale), "entry", "entries")
            lines.append(
                f"stale: {count} in {shown_path} not checked by this run (the gate "
                "was deselected, did not run or no longer exists):"
            )
            shown = self.stale if verbose else self.stale[:10]
            lines.extend(f"  {key}" for key in shown)
            if len(shown) < len(self.stale):
                lines.append(
                    f"  ... and {len(self.stale) - len(shown)} more; -v lists all"
                )
        lines.extend(
            f"warning: {test}: {key}: {note}" for test, key, note in self.notes
        )
        return lines


def finish_run(
    session: BaselineSession, outcomes: Iterable[EntryOutcome], *, write: bool
) -> BaselineSummary:
    """Write the entries a run recorded (when `write`) and summarise the baseline.

    The file is written once, atomically, and only when its content
    changes. A file that cannot be read is never written.
    """
    ordered = sorted(outcomes, key=lambda o: (o.test or "", o.key))
    summary = BaselineSummary(session.path, session.mode, ordered)
    try:
        file = session.file
    except VisionGuardError as error:
        summary.error = str(error)
        return summary
    summary.stale = stale_keys(file, {outcome.key for outcome in ordered})
    if session.mode == "compare":
        return summary
    if not write:
        summary.error = f"the run was interrupted, so {session.path} was not written"
        return summary
    try:
        summary.written = recorded_entries(ordered)
        if summary.written:
            entries = dict(file.entries)
            for outcome in summary.written:
                assert outcome.entry is not None
                entries[outcome.key] = outcome.entry
            summary.changed = write_if_changed(session.path, render_baseline(entries))
    except VisionGuardError as error:
        summary.written = []
        summary.error = str(error)
    except OSError as error:
        summary.written = []
        summary.error = f"could not write the baseline file {session.path}: {error}"
    return summary


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
