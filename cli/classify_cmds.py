"""``evidence-hub eval classify``, ``train-classifier`` and ``reclassify``: measure, train and
re-apply the classifier on documents already in the index (no fetch, no extraction)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cli.common import ConfigOption, console, err, load_cli_settings

eval_app = typer.Typer(help="Measure the hub against gold labels.", no_args_is_help=True)

KIND_TITLES = {"policy_areas": "Policy areas", "themes": "Themes", "evidence_types": "Evidence types",
               "doc_type": "Document type (extraction's rules; micro F1 = accuracy)",
               "language": "Language (py3langid; micro F1 = accuracy)"}


def _open(settings, method: Optional[str] = None):
    """HubContext with the classifier method overridden, or exit 1 when there is no index."""
    from flows.context import HubContext

    if method:
        settings = settings.model_copy(update={"classification": settings.classification.model_copy(
            update={"method": method})})
    if settings.index.backend == "embedded" and not settings.index_path.exists():
        err.print(f"[red]no index at {settings.index_path}[/red]; run `evidence-hub ingest` first")
        raise typer.Exit(1)
    return HubContext(settings)


def _labelled(ctx, gold: Path):
    from classify.evaluation import GoldError, read_gold
    from classify.training import labelled_documents

    known = {kind: {label.id for label in ctx.taxonomy.labels_of(kind)}
             for kind in ("themes", "policy_areas", "evidence_types")}
    try:
        rows = read_gold(gold, known)
    except GoldError as exc:
        err.print(f"[red]gold file error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not rows:
        err.print(f"[red]{gold} has no gold rows[/red] (only a header?): add one row per labelled document",
                  soft_wrap=True)
        raise typer.Exit(2)
    documents, missing = labelled_documents(ctx.index, rows)
    if not documents:
        err.print(f"[red]none of the {len(rows)} gold files is in the index[/red] (matched by file name); "
                  "ingest them first, e.g. `evidence-hub ingest --directory FOLDER`")
        raise typer.Exit(1)
    return documents, missing


def print_metrics(metrics: dict, taxonomy, heading: str) -> None:
    """One table per kind: per-label P/R/F1/support, then micro and macro averages (and their 95%
    bootstrap intervals, when the metrics have them)."""
    for kind, m in metrics.items():
        table = Table(title=f"{KIND_TITLES.get(kind, kind)} — {heading} ({m.documents} documents)")
        for column in ("label", "precision", "recall", "F1", "support"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for label_id, v in m.per_label.items():
            name = taxonomy.label_name(label_id)
            table.add_row(f"{label_id} {name}"[:48] if name != label_id else label_id, f"{v.precision:.2f}",
                          f"{v.recall:.2f}", f"{v.f1:.2f}", str(v.support))
        table.add_section()
        table.add_row("micro average", f"{m.micro_precision:.2f}", f"{m.micro_recall:.2f}", f"{m.micro_f1:.2f}", "")
        table.add_row("macro average (labels with support)", "", "", f"{m.macro_f1:.2f}", "")
        console.print(table)
        if m.micro_f1_ci95 and m.macro_f1_ci95:
            console.print(f"95% bootstrap interval ({m.documents} documents): micro F1 "
                          f"[{m.micro_f1_ci95[0]:.2f}, {m.micro_f1_ci95[1]:.2f}], macro F1 "
                          f"[{m.macro_f1_ci95[0]:.2f}, {m.macro_f1_ci95[1]:.2f}]", soft_wrap=True)


@eval_app.command("classify")
def eval_classify(
    gold: Path = typer.Option(..., "--gold", help="CSV: file, policy_areas, themes (ids separated by ';')"),
    cv: int = typer.Option(0, "--cv", min=0, max=20,
                           help="K > 1: train the supervised model K times, each time scoring the fold it "
                                "never saw (cross-validated figures); 0: score the classifier as configured"),
    method: Optional[str] = typer.Option(None, "--method", help="zero_shot | supervised | auto (default: settings)"),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per the issue's shape"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Precision, recall and F1 per label, micro and macro averages, against gold labels.

    Gold rows are matched to indexed documents by the file name at the end of their path or URL.
    Gold columns doc_type and language, when present, are scored too (one value per document)."""
    from classify.evaluation import report_json
    from classify.supervised import ModelError, folds_used
    from classify.training import cross_validate, evaluate, facet_metrics

    if method not in (None, "zero_shot", "supervised", "auto"):
        err.print(f"[red]--method must be zero_shot, supervised or auto, not {method!r}[/red]")
        raise typer.Exit(2)
    if cv == 1:
        err.print("[red]--cv needs at least 2 folds[/red]")
        raise typer.Exit(2)
    ctx = _open(load_cli_settings(config), method)
    try:
        documents, missing = _labelled(ctx, gold)
        try:
            if cv:
                used = folds_used(len(documents), cv)  # fewer documents than folds: one fold per document
                metrics, heading = (cross_validate(ctx.classifier, documents, folds=cv),
                                    f"supervised, {used}-fold cross-validated" + (f" (--cv {cv}: {len(documents)} "
                                                                                  "documents)" if used != cv else ""))
            else:
                metrics, heading = evaluate(ctx.classifier, documents), ctx.classifier.method.replace("_", "-")
        except (ModelError, ValueError) as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
        metrics |= facet_metrics(documents)  # rules, not the classifier: the same figures in every mode
        if json_out:
            print(json.dumps(report_json(metrics, {"method": heading, "matched": len(documents),
                                                   "unmatched": missing}), indent=2))
        else:
            print_metrics(metrics, ctx.taxonomy, heading)
            if missing:
                console.print(f"[yellow]{len(missing)} gold files are not in the index (or have no text):[/yellow] "
                              + ", ".join(missing))
    finally:
        ctx.close()


def train_classifier(
    labels: Path = typer.Argument(..., help="Gold CSV: file, policy_areas, themes (ids separated by ';')"),
    folds: int = typer.Option(5, "--folds", min=2, max=20, help="Folds for threshold calibration and the report"),
    json_out: bool = typer.Option(False, "--json", help="Print the cross-validated report as JSON"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Train the supervised classifier on labelled indexed documents and save it.

    Prints cross-validated figures (never figures on the training set). With classification.method
    auto (the default) later ingests and `reclassify` use the saved model."""
    from classify.evaluation import KindMetrics, report_json
    from classify.supervised import folds_used
    from classify.training import train

    settings = load_cli_settings(config)
    ctx = _open(settings, "zero_shot")
    try:
        documents, missing = _labelled(ctx, labels)
        try:
            model = train(ctx.classifier, documents, folds=folds)
        except ValueError as exc:
            err.print(f"[red]cannot train:[/red] {exc}")
            raise typer.Exit(1) from None
        path = settings.classifier_model_path
        model.save(path)
        metrics = {kind: KindMetrics.model_validate(m) for kind, m in model.report["cross_validated"].items()}
        if json_out:
            print(json.dumps(report_json(metrics, {"model": str(path), "trained_on": model.trained_on,
                                                   "not_trained": model.report.get("not_trained", {}),
                                                   "unmatched": missing}), indent=2))
        else:
            print_metrics(metrics, ctx.taxonomy, f"{folds_used(len(documents), folds)}-fold cross-validated")
            for kind, reason in model.report.get("not_trained", {}).items():
                console.print(f"[yellow]{kind} not trained:[/yellow] {reason}; they stay zero-shot")
            others = len(documents) - model.trained_on
            console.print(f"trained on {model.trained_on} documents"
                          + (f" ({others} in other languages are labelled by keywords)" if others else "")
                          + f"; model saved to {path}")
            console.print("run `evidence-hub reclassify` to apply it to the whole index")
    finally:
        ctx.close()


def reclassify(
    method: Optional[str] = typer.Option(None, "--method", help="zero_shot | supervised | auto (default: settings)"),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Re-label the whole index from stored text and embeddings (after editing config/taxonomy.yaml,
    the thresholds or training a model). Nothing is fetched or extracted again."""
    from rich.progress import Progress

    from classify.relabel import reclassify_index
    from classify.supervised import ModelError

    ctx = _open(load_cli_settings(config), method)
    try:
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("reclassifying", total=None)
            try:
                summary = reclassify_index(ctx.index, ctx.classifier, ctx.embedder,
                                           progress=lambda done, total: bar.update(task, completed=done, total=total))
            except ModelError as exc:
                err.print(f"[red]{exc}[/red]")
                raise typer.Exit(1) from None
        data = {"method": ctx.classifier.method, "documents": summary.documents, "changed": summary.changed,
                "labelled": summary.labelled, "skipped": summary.skipped}
        if json_out:
            print(json.dumps(data, indent=2))
        else:
            console.print(f"reclassified {summary.documents} documents ({data['method']}); labels changed on "
                          f"{summary.changed}; with a policy area: {summary.labelled['policy_areas']}, with a theme: "
                          f"{summary.labelled['themes']}, with an evidence type: {summary.labelled['evidence_types']}")
    finally:
        ctx.close()
