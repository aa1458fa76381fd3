"""`fit --match` and `predict` with matched models: decoders matched to a recording's limits,
and their per-area and per-animal verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lrdecode.cli.options import Measure
from lrdecode.cli.output import reporter
from lrdecode.decoding.scale import ABSOLUTE
from lrdecode.errors import DecodeError
from lrdecode.limits import describe_limits

if TYPE_CHECKING:
    from lrdecode.io.data import LoadedData


def fit_matched(loaded: LoadedData, match: Path, out: Path, *, classifier: str, statistic: list[str] | None,
                 area: str | None, noise: float | None, span: str, draws: int, calibration: str, splits: int,
                 seed: int, exhaustive: bool, n_jobs: int, quiet: bool, measure: Measure, scale: str) -> None:
    """`fit --match`: train on DATA reduced to a recording's limits, calibrate, save, and say how it matched."""
    from lrdecode.io.model_files import save_model
    from lrdecode.matching import fit_matched_areas

    if measure not in (Measure.all, Measure.act):
        raise DecodeError(f"a recording has act statistics only, not {measure.value}",
                          "leave out --measure (or pass --measure act) with --match")
    start, sep, end = span.partition(":")
    try:
        bounds = (float(start), float(end))
    except ValueError:
        raise DecodeError(f"cannot read --match-span {span!r}", "write START:END, e.g. 0:1 or 0:0.5") from None
    if not sep:
        raise DecodeError(f"cannot read --match-span {span!r}", "write START:END, e.g. 0:1 or 0:0.5")
    with reporter(quiet) as bars:
        models = fit_matched_areas(loaded, match, classifier=classifier, area=area, noise=noise, span=bounds,
                                   statistics=statistic, draws=draws, calibration=calibration, n_splits=splits,
                                   exhaustive=exhaustive, seed=seed, n_jobs=n_jobs, scale=scale, reporter=bars)
    if len(models) > 1:
        typer.echo(f"{len(models)} groups of areas with different limits: one matched model each, in one file")
    for model in models:
        describe_match(model, classifier)
    save_model(models, out)
    typer.echo(f"wrote {out}")


def describe_match(model: Any, classifier: str) -> None:
    """How one decoder was matched to its areas, and the accuracy to expect."""
    m, e, info = model.training["match"], model.training["expected_accuracy"], model.training["data"]
    positions = ", ".join(f"{p:.2f}" for p in m["recording_positions"])
    typer.echo(f"matched to {m['recording']} ({', '.join(m['areas'])}): {len(m['recording_positions'])} sessions at "
               f"relative times {positions} -> checkpoints {m['checkpoints']} (max spacing error "
               f"{m['max_spacing_error']:.3f})")
    used, noise = m["units_used"], m["noise_used"]
    noise_used = (f"{m['noise_relative']:.3g} of each layer's noise-free RMS response" if "noise_relative" in m else
                  f"{noise['min']:.4g}" if noise["min"] == noise["max"] else f"{noise['min']:.4g}..{noise['max']:.4g}")
    for line in describe_limits(units=m["n_units"], noise=f"{m['noise_std']:.4g} ({m['noise_source']})",
                                units_used=(used["min"], used["max"]), noise_used=noise_used, how=m["units_from"],
                                left_out=m.get("left_out_layers", ())):
        typer.echo(f"  {line}")
    typer.echo(f"  scale: {m.get('scale', ABSOLUTE)}; {len(model.layout.observables)} act statistics")
    typer.echo(f"{classifier} on {info['labelled_examples']} example(s) of {len(model.classes)} rules "
               f"({', '.join(model.classes)}); chosen {model.params}")
    for dropped in info["dropped_statistics"]:
        typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
    typer.echo(f"expected accuracy under these limits: {e['mean']:.3f} ± {e['sem']:.3f} (run-grouped, "
               f"{e['n_splits']} splits; chance {e['chance']:.3f})")
    novelty = model.training.get("novelty")
    calibration = model.training["calibration"]
    typer.echo(f"probabilities calibrated: {calibration['method']}, {calibration['folds']} run-grouped folds"
               + (f"; novelty threshold {novelty['threshold']:.3g} ({novelty['held_out_flagged']:.1%} of held-out "
                  f"simulated examples above it)" if novelty else ""))


def animals_of(items: list[str]) -> dict[str, str]:
    """``["mouse1=rec_a,rec_b"]`` -> {run id: animal}."""
    animals: dict[str, str] = {}
    for item in items:
        name, sep, runs = item.partition("=")
        named = list(dict.fromkeys(r.strip() for r in runs.split(",") if r.strip()))
        if not sep or not name.strip() or not named:
            raise DecodeError(f"cannot read --animal {item!r}",
                              "write ANIMAL=RUN1,RUN2 (the run ids of its recordings)")
        for run in named:
            if run in animals:
                raise DecodeError(f"run {run} is given to two animals (--animal)", "name each run once")
            animals[run] = name.strip()
    return animals


def predict_matched_runs(models: list[Any], loaded: LoadedData, out: Path | None, animals: dict[str, str]) -> None:
    """`predict` with matched models: per area and per animal, calibrated, with the expected accuracy."""
    import json

    from lrdecode.io.results import _jsonable, atomic_write
    from lrdecode.matching import predict_matched

    runs = sorted(set(loaded.trajectories.examples["run_id"].astype(str)))
    unknown = sorted(set(animals) - set(runs))
    if unknown:
        raise DecodeError(f"--animal names run(s) not in the data: {', '.join(unknown)}",
                          f"use run ids of the data: {', '.join(runs)}")
    clash = sorted(a for a in set(animals.values()) if a in runs and a not in animals)
    if clash:
        raise DecodeError(f"animal name {clash[0]} is also the run id of a recording not given to it (--animal)",
                          f"name the animal otherwise, or give it that run too ({clash[0]}={clash[0]},...)")
    areas, verdicts = predict_matched(models, loaded, animals=animals)
    probabilities = [c for c in areas.columns if c.startswith("p_")]
    shown = areas[["animal", "area", "n_units", "sessions", "predicted", *probabilities, "novelty_score"]].copy()
    shown["note"] = ["" if ok else "unlike every simulated network" for ok in areas["in_distribution"]]
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for _, row in verdicts.iterrows():
        line = (f"animal {row['animal']}: {row['predicted']} (p {row['probability']:.3f}) from "
                f"{row['areas_used']} of {row['areas']} area(s)")
        if not row["in_distribution"]:
            line += " -- every area is unlike every simulated network: do not trust this verdict"
        elif row["areas_used"] < row["areas"]:
            line += " (areas unlike every simulated network left out)"
        typer.echo(line)
    for _, row in areas[~areas["in_distribution"]].iterrows():
        typer.secho(f"warning: {row['animal']} area {row['area']} is unlike every simulated network (novelty score "
                    f"{row['novelty_score']:.3g}, threshold {row['novelty_threshold']:.3g}); its probabilities are "
                    f"shown but should not be trusted", err=True, fg=typer.colors.YELLOW)
    calibration = models[0].training["calibration"]
    expected = "; ".join(
        (f"{', '.join(m.training['match']['areas'])} " if len(models) > 1 else "")
        + f"{e['mean']:.3f} ± {e['sem']:.3f} (run-grouped, {e['n_splits']} splits; chance {e['chance']:.3f})"
        for m in models for e in [m.training["expected_accuracy"]])
    typer.echo(f"probabilities calibrated ({calibration['method']}, {calibration['folds']} run-grouped folds); "
               f"expected accuracy under these limits, per area: {expected}; an animal's verdict multiplies its "
               f"areas' likelihoods, assuming them independent given the rule")
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    report = {"calibration": calibration, "expected_accuracy": [m.training["expected_accuracy"] for m in models],
              "match": [m.training["match"] for m in models], "novelty": [m.training.get("novelty") for m in models],
              "classifier": models[0].classifier, "classes": list(models[0].classes),
              "combination": "posterior ∝ prior x Π over in-distribution areas of (calibrated p / prior); assumes "
                             "areas independent given the rule",
              "areas": areas.to_dict(orient="records"), "animals": verdicts.to_dict(orient="records")}
    for name, table in (("predictions_areas", areas), ("predictions_animals", verdicts)):
        atomic_write(out / f"{name}.csv", lambda f, t=table: f.write(t.to_csv(index=False).encode()))
    atomic_write(out / "predictions.json",
                 lambda f: f.write(json.dumps(_jsonable(report), indent=2, allow_nan=False).encode()))
    typer.echo(f"wrote {out / 'predictions_areas.csv'}, {out / 'predictions_animals.csv'} and "
               f"{out / 'predictions.json'}")
