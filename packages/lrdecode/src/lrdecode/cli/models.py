"""`lrdecode fit` and `lrdecode predict`: a decoder saved to a model file, and its verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lrdecode.cli.matched import animals_of, fit_matched, predict_matched_runs
from lrdecode.cli.options import (
    ONE_CLASSIFIER,
    ONE_MEASURE,
    DataArg,
    IncompleteOpt,
    MeasurementOpt,
    MinMetricOpt,
    Param,
    WhereOpt,
    command_function,
    parameters,
)
from lrdecode.cli.output import load_data, reporter, warn_exhaustive
from lrdecode.errors import DecodeError

FIT_DOC = """Fit a decoder on every labelled run and save it (skops model file).

    Hyperparameters are chosen by run-grouped inner cross-validation. With --match RECORDING,
    the decoder is matched to one experiment (see `lrdecode predict`).
    """
MATCH_OPTIONS = [
    Param("match", Annotated[Path | None, typer.Option(
        "--match", help="A recording dataset (from `lrdecode ingest`): train on DATA reduced to its limits (same "
        "number and relative spacing of sessions, unit count, noise, act statistics only), calibrate the "
        "probabilities and store the accuracy to expect. See 'Real recordings' in the README.")], None),
    Param("match_area", Annotated[str | None, typer.Option(
        "--match-area", help="With --match: match this area only (by default, one model per group of areas that "
        "share unit count and sessions, in one file).")], None),
    Param("noise", Annotated[float | None, typer.Option(
        "--noise", min=0.0, help="With --match: measurement noise s.d. per response (default: estimated from "
        "repeated stimuli in the recording, else 0 with a warning).")], None),
    Param("match_span", Annotated[str, typer.Option(
        "--match-span", help="With --match: share of the simulated training the recording covers, START:END "
        "(first session -> START, last -> END).")], "0:1"),
    Param("draws", Annotated[int, typer.Option(
        "--draws", min=1, help="With --match: unit draws per simulated layer (from unit responses).")], 1),
    Param("calibration", Annotated[str, typer.Option(
        "--calibration", help="With --match: probability calibration, sigmoid or isotonic (needs many runs).")],
        "sigmoid"),
    Param("splits", Annotated[int, typer.Option(
        "--splits", min=1, help="With --match: run-grouped splits for the expected accuracy.")], 10),
    Param("scale", Annotated[str, typer.Option(
        "--scale", help="With --match: 'relative' compares activity relative to each area's RMS response at its "
        "first session (any response unit); 'absolute' compares raw values (same units as the simulation).")],
        "relative"),
]
FIT_PARAMETERS = parameters(
    replace={"out": Param("out", Annotated[Path, typer.Option(
        "--out", "-o", help="Model file to write (skops format, e.g. model.skops).")]),
        "classifier": ONE_CLASSIFIER, "measure": ONE_MEASURE, "split": None, "splits": None, "test_fraction": None},
    after={"quiet": MATCH_OPTIONS})


def run_fit(options: dict[str, Any]) -> None:
    from lrdecode.decoding.decoder import fit_decoder
    from lrdecode.decoding.features import dropped_examples_line
    from lrdecode.io.model_files import save_model

    classifier, out = options["classifier"], options["out"]
    loaded = load_data(options["data"], options["where"], options["measurement"], options["include_incomplete"],
                       options["min_metric"])
    warn_exhaustive(options["exhaustive"], [classifier])
    if options["match"] is not None:
        fit_matched(loaded, options["match"], out, classifier=classifier, statistic=options["statistic"],
                    area=options["match_area"], noise=options["noise"], span=options["match_span"],
                    draws=options["draws"], calibration=options["calibration"], splits=options["splits"],
                    seed=options["seed"], exhaustive=options["exhaustive"], n_jobs=options["n_jobs"],
                    quiet=options["quiet"], measure=options["measure"], scale=options["scale"])
        return
    with reporter(options["quiet"]) as bars:
        model = fit_decoder(loaded, classifier=classifier, measure=options["measure"].value,
                            statistics=options["statistic"], exhaustive=options["exhaustive"], seed=options["seed"],
                            n_jobs=options["n_jobs"], reporter=bars)
    info = model.training["data"]
    typer.echo(f"{classifier} on {info['labelled_examples']} example(s) of {len(model.classes)} rules "
               f"({', '.join(model.classes)}), {len(model.layout.observables)} statistic(s) x "
               f"{model.layout.n_checkpoints} checkpoint(s)")
    for dropped in info["dropped_statistics"]:
        typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
    if examples_line := dropped_examples_line(info):
        typer.echo(f"  {examples_line}")
    typer.echo(f"chosen {model.params} by {model.training['selection_method']}; "
               f"validation accuracy {model.training['validation_accuracy']:.3f}")
    save_model(model, out)
    typer.echo(f"wrote {out}")


fit = command_function("fit", FIT_DOC, FIT_PARAMETERS, run_fit)


def predict(
    model_file: Annotated[Path, typer.Argument(help="A model written by `lrdecode fit`.", show_default=False)],
    data: DataArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for predictions (CSV).")] = None,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    animal: Annotated[list[str] | None, typer.Option(
        "--animal", help="With a matched model: ANIMAL=RUN1,RUN2 declares recordings (runs) of one animal, whose "
        "areas are combined into one verdict (repeatable; default: one animal per run).")] = None,
) -> None:
    """Predict the learning rule of every run in the data, with probabilities.

    A run's probabilities are the mean over its layers (and measurement settings). A model
    fitted with --match predicts per recording and area, with calibrated probabilities, the
    accuracy to expect and a novelty check (areas unlike every simulated network are marked),
    combines each animal's areas into one verdict, and refuses data that does not match its
    limits. Many recordings can be given at once (DATA is repeatable).
    """
    from lrdecode.io.model_files import load_models
    from lrdecode.io.results import atomic_write

    models = load_models(model_file)
    loaded = load_data(data, where, measurement, include_incomplete, min_metric)
    if all("match" in m.training for m in models):
        predict_matched_runs(models, loaded, out, animals_of(animal or []))
        return
    model = models[0]
    features = model.features(loaded)
    for _, row in features.unusable.iterrows():
        typer.secho(f"note: skipped run {row['run_id']} layer {row['layer']} ({row['measurement']}): {row['reason']}",
                    err=True, fg=typer.colors.YELLOW)
    if len(features) == 0:
        raise DecodeError("no example of the data can be predicted",
                          "every example misses a statistic the model needs; see the notes above")
    examples = model.predict_examples(features)
    runs = model.predict_runs(features)
    typer.echo(runs.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    known = runs["learning_rule"].notna()
    if known.any():
        correct = (runs.loc[known, "learning_rule"] == runs.loc[known, "predicted"]).mean()
        typer.echo(f"{known.sum()} run(s) have a known rule: {correct:.1%} named correctly")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (("predictions_runs", runs), ("predictions_examples", examples)):
            atomic_write(out / f"{name}.csv", lambda f, t=table: f.write(t.to_csv(index=False).encode()))
        typer.echo(f"wrote {out / 'predictions_runs.csv'} and {out / 'predictions_examples.csv'}")
