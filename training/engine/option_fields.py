"""What every training option is: its help, bounds and choices, in one place.

``NetworkConfig`` and ``TrainConfig`` declare each field with :func:`option`;
the command line (``training.engine.cli``), the admin's start form
(``training.forms``), the presets (``training.services``) and the benchmarks
(``bench/network_options.py``) are all derived from :func:`option_specs`, so a
new option is one line in the dataclass. A field declared without
:func:`option` still appears everywhere (its type decides the parser), just
without help or bounds.

Bounds are what the engine accepts: ``TrainConfig.validate`` checks them too,
so a seed of 10**23 or a target of 1e308 kimg is refused with the option's
name before any worker tries (and overflows) on it.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

_MISSING = dataclasses.MISSING


class _Auto:
    """What ``--r1-gamma none`` parses to: set the option to None (what None means is in its help)."""

    def __repr__(self) -> str:
        return "auto"


AUTO = _Auto()


def option(
    default: Any = _MISSING,
    help: str = "",
    *,
    label: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[Any, ...] | None = None,
    basic: bool = False,
    admin: bool = True,
    default_factory: Any = _MISSING,
) -> Any:
    """A dataclass field with the metadata every front end reads.

    ``basic``: shown at the top of the admin's start form (the rest sit under
    "Advanced"). ``admin=False``: not offered in the admin at all (the worker
    or the run's genres decide it).
    """
    metadata = {
        "help": help,
        "label": label,
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
        "basic": basic,
        "admin": admin,
    }
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True)
class OptionSpec:
    """One option as the front ends see it (network options are flattened)."""

    name: str  # the field name; the CLI flag is --name-with-dashes
    section: str  # "network" or "training"
    kind: type  # int, float, str or bool
    optional: bool  # None is allowed (an automatic value)
    default: Any
    help: str
    label: str
    minimum: float | None
    maximum: float | None
    choices: tuple[Any, ...] | None
    basic: bool
    admin: bool

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any, owner: str) -> None:
        """Raise ValueError naming the option when ``value`` is outside its bounds or choices."""
        if value is None and self.optional:
            return
        if self.choices is not None and value not in self.choices:
            raise ValueError(
                f"{owner}.{self.name}={value!r} is not one of {', '.join(map(str, self.choices))}."
            )
        if self.kind in (int, float) and not isinstance(value, bool) and isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{owner}.{self.name}={value!r} must be a finite number.")
            low, high = self.minimum, self.maximum
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"{owner}.{self.name}={value!r} must be {self.range_text()}.")

    def range_text(self) -> str:
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"between {_number(low)} and {_number(high)}"
        if low is not None:
            return f"at least {_number(low)}"
        if high is not None:
            return f"at most {_number(high)}"
        return "any number"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _kind(annotation: Any) -> tuple[type, bool]:
    """(base type, None allowed) of an annotation such as ``float | None``."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return rest[0], len(rest) < len(args)
    return annotation, False


def field_specs(cls: type, section: str) -> list[OptionSpec]:
    """The specs of one dataclass's scalar fields (nested dataclasses are skipped)."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        kind, optional = _kind(hints[f.name])
        if dataclasses.is_dataclass(kind):
            continue
        meta = f.metadata
        default = f.default if f.default is not _MISSING else None
        specs.append(
            OptionSpec(
                name=f.name,
                section=section,
                kind=kind,
                optional=optional,
                default=default,
                help=meta.get("help", ""),
                label=meta.get("label", ""),
                minimum=meta.get("minimum"),
                maximum=meta.get("maximum"),
                choices=meta.get("choices"),
                basic=meta.get("basic", False),
                admin=meta.get("admin", True),
            )
        )
    return specs


def option_specs() -> list[OptionSpec]:
    """Every option of a training run: the network's first, then the training's."""
    from training.engine.config import NetworkConfig
    from training.engine.options import TrainConfig

    specs = field_specs(NetworkConfig, "network") + field_specs(TrainConfig, "training")
    names = [s.name for s in specs]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        # One flat namespace (CLI flags, form fields): a name may exist only once.
        raise TypeError(f"NetworkConfig and TrainConfig both define {clashes}; rename one of them.")
    return specs


def check_fields(instance: Any, section: str) -> None:
    """Check every field of ``instance`` against its declared bounds and choices."""
    owner = type(instance).__name__
    for spec in field_specs(type(instance), section):
        spec.check(getattr(instance, spec.name), owner)


# Command line ---------------------------------------------------------------------------------


def _parser_type(spec: OptionSpec) -> Any:
    def parse(text: str) -> Any:
        if spec.optional and text.lower() in ("auto", "none"):
            return AUTO
        try:
            return spec.kind(text)
        except ValueError:
            kind = {int: "a whole number", float: "a number"}.get(spec.kind, spec.kind.__name__)
            auto = " or 'none'" if spec.optional else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}{auto}") from None

    parse.__name__ = spec.kind.__name__
    return parse


def _help(spec: OptionSpec, default: Any) -> str:
    parts = [spec.help or spec.title]
    if spec.minimum is not None or spec.maximum is not None:
        parts.append(spec.range_text())
    parts.append(f"default {'none' if default is None else default}")
    return "; ".join(parts).replace("%", "%%")


def add_option_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    specs: list[OptionSpec],
    defaults: dict[str, Any] | None = None,
) -> None:
    """One flag per option, named as its field (``--batch-size``, ``--no-ada``).

    Without ``defaults`` every flag defaults to None (= not given, keep the
    config's value); with them, those values are the parser's defaults.
    """
    for spec in specs:
        default = (defaults or {}).get(spec.name)
        shown = default if defaults and spec.name in defaults else spec.default
        kwargs: dict[str, Any] = {"dest": spec.name, "default": default, "help": _help(spec, shown)}
        if spec.kind is bool:
            parser.add_argument(spec.flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if spec.choices is not None:
            kwargs["choices"] = spec.choices
        parser.add_argument(spec.flag, type=_parser_type(spec), **kwargs)


def values_from_args(args: argparse.Namespace, specs: list[OptionSpec]) -> dict[str, Any]:
    """The options given on the command line, nested as ``TrainConfig.from_dict`` takes them."""
    values: dict[str, Any] = {"network": {}}
    for spec in specs:
        value = getattr(args, spec.name, None)
        if value is None:
            continue
        if value is AUTO:
            value = None
        (values["network"] if spec.section == "network" else values)[spec.name] = value
    return values
