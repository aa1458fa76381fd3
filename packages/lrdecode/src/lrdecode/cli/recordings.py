"""Real recordings: `lrdecode ingest` (a recording -> a dataset to decode) and
`lrdecode example-recording` (toy recordings and simulations to try it on)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from lrdecode import __version__
from lrdecode.cli.options import SeedOpt
from lrdecode.errors import DecodeError


class RecordingFormat(StrEnum):
    nwb = "nwb"
    npz = "npz"
    csv = "csv"


POSITION_ALIASES = {"late": "deep"}


def _positions(items: list[str]) -> str | dict[str, str]:
    """``["deep"]`` -> "deep"; ``["V1=early", "V4=deep"]`` -> per area ("late" is taken as "deep")."""
    def one(value: str) -> str:
        value = value.strip().lower()
        return POSITION_ALIASES.get(value, value)

    if len(items) == 1 and "=" not in items[0]:
        return one(items[0])
    mapping = {}
    for item in items:
        area, sep, value = item.partition("=")
        if not sep or not area.strip():
            raise DecodeError(f"cannot read --position {item!r}",
                              "give one position for every area (--position deep) or AREA=POSITION per area")
        mapping[area.strip()] = one(value)
    return mapping


def _recording_files(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for the .nwb files in it (one per session)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.glob("*.nwb"))
            if not inside:
                raise DecodeError(f"{path} is a directory without .nwb files",
                                  "give recording files (.nwb, .npz, .csv)")
            files += inside
        else:
            files.append(path)
    return files


def ingest(
    recordings: Annotated[list[Path], typer.Argument(
        help="Recording file(s) of one animal: NWB files (one per session, or a directory of them), one .npz or "
        "one .csv. Layouts: see 'Real recordings' in the README.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset directory to write (shared_schema format).")],
    position: Annotated[list[str], typer.Option(
        "--position", "-p", help="Depth position of the recorded area(s) in the circuit: early, middle or deep "
        "(late = deep); or AREA=POSITION for each area (repeatable).")],
    format: Annotated[RecordingFormat | None, typer.Option(
        "--format", "-f", help="Recording format (default: from the extension: .nwb, .npz, .csv).")] = None,
    area: Annotated[str | None, typer.Option(
        "--area", help="Area (layer) name for every unit (default: the file's areas, else its name).")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run id (default: the first argument's name).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Task the animal learned (runs.parquet task).")] = None,
    common_units: Annotated[bool, typer.Option(
        "--common-units", help="Keep only units present in every session instead of refusing the recording.")
    ] = False,
    drop_nan_units: Annotated[bool, typer.Option(
        "--drop-nan-units/--refuse-nan-units", help="Drop units with missing (NaN) responses (with a warning), "
        "or refuse the recording.")] = True,
    nwb_column: Annotated[str, typer.Option(
        "--nwb-column", help="NWB: the Units column holding each unit's response to each stimulus.")
    ] = "stimulus_responses",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")] = False,
) -> None:
    """Turn a recording (unit responses x stimuli at several sessions) into a dataset to decode.

    One run (source=recording, learning_rule empty): each area is a layer at the given depth
    position, each session a checkpoint (epoch = session time), with the 21 act statistics of
    the shared_schema reference and the unit responses (units.parquet). The recording is
    checked before anything is written, and the dataset is written atomically.
    """
    from lrdecode.recordings import RecordingError, read_recording, recording_to_dataset
    from lrdecode.recordings.ingest import run_id_from

    if out.exists() and not overwrite:
        raise DecodeError(f"{out} already exists", "choose another --out, or pass --overwrite to replace it")
    files = _recording_files(recordings)
    try:
        recording = read_recording(files, format=format.value if format else None, area=area,
                                   common_units=common_units, nwb_column=nwb_column, drop_nan_units=drop_nan_units)
        run = run_id_from(run_id or recordings[0].stem)
        dataset = recording_to_dataset(recording, run_id=run, position=_positions(position), task=task)
    except RecordingError as error:
        raise DecodeError(str(error)) from None
    dataset.write(out, overwrite=overwrite, producer=("lrdecode", __version__),
                  description=f"Recording ingested from {recording.source}")
    times = ", ".join(f"{t:g}" for t in recording.session_times)
    when = (f"(no time column: session numbers {times})" if recording.time_unit == "sessions"
            else f"at {recording.time_unit} {times}")
    typer.echo(f"read {recording.source}: {recording.n_sessions} sessions {when}; "
               f"{recording.responses.shape[1]} stimuli")
    layers = dataset.observables.drop_duplicates("layer")
    for _, row in layers.iterrows():
        typer.echo(f"  area {row['layer']}: {row['n_units']} units, position {row['layer_position']}")
    typer.echo(f"wrote {out}: run {run} (source=recording, learning_rule empty), 21 act statistics per area and "
               f"session, unit responses in units.parquet")


def example_recording(
    directory: Annotated[Path, typer.Argument(help="Directory to write the example files into.",
                                              show_default=False)],
    rule: Annotated[str, typer.Option("--rule", help="Toy rule of the recorded animal: sgdm, adam, fa or ia.")
                    ] = "fa",
    sessions: Annotated[str, typer.Option("--sessions", help="Session days, comma-separated, within 0..20.")
                        ] = "0,3,9,14,20",
    units: Annotated[int, typer.Option("--units", min=2, max=50, help="Units recorded (of the toy layer's 50).")
                     ] = 40,
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Noise s.d. added to every recorded response.")
                     ] = 0.2,
    seed: SeedOpt = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty directory.")] = False,
) -> None:
    """Write example recordings (.npz, .csv, NWB) and toy simulations to match them to.

    A toy population model (lrdecode.recordings.examples: each rule changes the response
    distribution in its own way; a toy, not a model of any real rule) gives simulated/
    (4 rules x 6 runs x 3 layers, 21 checkpoints, unit responses) and the recording of one
    more toy animal trained by --rule: recording.npz, recording.csv and recording-nwb/ (one
    NWB file per session; skipped, with a note, without pynwb). Then: ingest, fit --match,
    predict (see the README). Nothing is half-written: on failure DIRECTORY stays as it was.
    """
    from lrdecode.recordings import RecordingError
    from lrdecode.recordings.examples import TOY_RULES, toy_session_days, write_toy_example

    if rule not in TOY_RULES:
        raise DecodeError(f"unknown toy rule {rule!r}", f"use one of {', '.join(TOY_RULES)}")
    try:
        days = [float(d) for d in sessions.split(",")]
    except ValueError:
        raise DecodeError(f"cannot read --sessions {sessions!r}", "give days separated by commas, e.g. 0,3,9,14,20"
                          ) from None
    try:  # only the days are checked here: a RecordingError below is not about them
        toy_session_days(days)
    except ValueError as error:
        raise DecodeError(str(error), "give increasing days within 0..20") from None
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise DecodeError(f"{directory} is not empty", "choose an empty directory, or pass --overwrite")
    try:
        written = write_toy_example(directory, rule=rule, sessions=days, recorded_units=units, noise=noise, seed=seed)
    except RecordingError as error:
        raise DecodeError(str(error)) from None
    for kind, paths in written.items():
        shown = paths[0] if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} files)"
        typer.echo(f"{kind:9} {shown}")
    if "nwb" not in written:
        typer.echo(f"NWB files skipped ({directory / 'recording-nwb'}): they need pynwb, "
                   f"pip install './packages/lrdecode[nwb]' (then rerun with --overwrite)")
