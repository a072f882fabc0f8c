"""Plain-text rendering of check results for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

import sympy

from identify.symbolic.check import CheckResult
from identify.theory.rates import Prediction

__all__ = ["format_check", "format_verdict_table", "format_prediction", "format_simulation"]

_YES = {True: "holds", False: "fails", None: "inconclusive"}


def _table(rows: Sequence[Sequence[str]], header: Sequence[str], indent: str = "  ") -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = indent + "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), indent + "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*map(str, r)).rstrip() for r in rows]
    return lines


def format_check(r: CheckResult) -> str:
    """The human report of `identify check`."""
    m, fam = r.model, r.family
    est = "least squares" if m.estimator.value == "lse" else m.estimator.value
    head = m.expert.name or m.expert.formula
    lines = [
        f"identify check: {head}",
        f"  gate {m.gate.name}, {est}, d = {m.dim}, order {r.order}, {fam.atoms} atom(s)",
        f"  F = {sympy.sstr(m.product())}",
        "  parameters: " + ", ".join(
            f"{b.name} ({b.role})" if b.size == 1 else
            f"{b.name} = ({', '.join(s.name for s in b.symbols)}) ({b.role})" for b in m.blocks),
        "",
    ]
    rel_ids = {id(rel): f"R{i}" for i, rel in enumerate(fam.relations, start=1)}
    zero_labels = {z.members[0].label for z in fam.zero_functions}
    unproved = {u.label for u in fam.unproved}
    rows = []
    for i, mem in enumerate(fam.members, start=1):
        where = [rel_ids[id(rel)] for rel in fam.relations if mem in rel.members]
        status = ("zero" if mem.label in zero_labels else
                  "unproved dependence" if mem.label in unproved else
                  "in " + ", ".join(where) if where else "independent")
        rows.append((str(i), mem.label, str(mem.order), status))
    lines.append(f"Derivative family: {fam.size} functions d^alpha F, |alpha| <= {r.order}")
    lines += _table(rows, ("#", "function", "order", "status"))
    lines.append("")
    zeros = ", ".join(sorted(zero_labels, key=lambda s: [m.label for m in fam.members].index(s)))
    lines.append(f"Zero functions: {zeros or 'none'}")
    lines.append(f"Relations (PDEs), a basis of {len(fam.relations)}:" if fam.relations
                 else "Relations (PDEs): none")
    for rel in fam.relations:
        lines.append(f"  {rel_ids[id(rel)]}  {rel.text}    [{rel.kind}; order {rel.order}; "
                     f"proof: {rel.proof}]")
    if fam.unproved:
        lines.append("  unproved: " + ", ".join(u.label for u in fam.unproved))
    lines.append("")
    cert = fam.certificate.text if fam.certificate else "none reached"
    lines.append(f"Rank: {fam.rank} of {fam.size} per atom; {fam.joint_rank} of "
                 f"{fam.atoms * fam.size} over {fam.atoms} atoms"
                 + (" (complete: rank + relations = size, no cross-atom relation)"
                    if fam.complete else " (lower bound)"))
    lines.append(f"Certificate: {cert}")
    lines.append("")
    lines.append("Literal conditions (on h alone, read as sets):")
    for c in r.conditions.values():
        lines.append(f"  {c.title:<40} {_YES[c.holds]:<12} [{c.source}]")
        lines.append(f"      {c.evidence}")
    lines.append("")
    edges = [f"{u} - {v}" for u, v in r.graph.edges()]
    lines.append("Interaction graph: " + (", ".join(edges) if edges else "no edges"))
    lines.append("")
    lines.append(f"Verdict: {r.verdict.value}")
    lines.append(f"  because {r.reason}")
    for note in r.notes:
        lines.append(f"  note: {note}")
    lines.append(f"({r.seconds:.2f} s)")
    return "\n".join(lines)


def format_verdict_table(results: Sequence[CheckResult]) -> str:
    """One line per model: name, formula, rank, relations, conditions, verdict."""
    rows = []
    for r in results:
        fam = r.family
        c = r.conditions
        rows.append((
            r.model.expert.name or "-",
            r.model.expert.formula,
            f"{fam.rank}/{fam.size}",
            str(len(fam.zero_functions)),
            str(len(fam.relations)),
            _YES[c["strong_lse"].holds],
            _YES[c["weak"].holds],
            r.verdict.value,
            f"{r.seconds:.2f}",
        ))
    header = ("expert", "formula", "rank", "zeros", "relations", "strong-LSE", "weak", "verdict",
              "s")
    return "\n".join(_table(rows, header, indent=""))


def format_prediction(p: Prediction, proof: bool = False) -> str:
    """The rate table: one line per block and cell (derived rate, certificate kind, registry
    row, cross-check); ``proof=True`` adds every proof, the notes and the provenance."""
    lines = ["Predicted rates, derived from the model's coefficient system (log factors dropped):"]
    rows = [(r.block, r.role, str(r.cell_size), r.rate, r.certificate or "-", r.registry or "-",
             r.agreement) for r in p.rates]
    lines += _table(rows, ("block", "role", "cell", "derived", "certificate", "registry (paper)",
                           "cross-check"))
    notes = set(p.derivation.notes) if p.derivation is not None else set()
    if not proof:
        lines.append(f"  derived verdict: {p.verdict.value}; registry row: "
                     + (f"{p.row.key} ({p.row.source}, {p.row.provenance})" if p.row else "none"))
        splits = {a.text: a.parameter for a in p.affine}
        for w in p.warnings:
            if w in splits:
                lines.append(f"  warning: over-fitted cells are not consistent along {splits[w]} "
                             "(exact two-atom split, proved)")
            elif w not in notes:
                lines.append(f"  warning: {w}")
        lines.append("  (the proofs: identify rates --proof, or --json)")
        return "\n".join(lines)
    lines.append(f"  derived verdict: {p.verdict.value}: {p.verdict_reason}")
    lines.append("  proofs:")
    by_proof: dict[tuple[int, str], list[str]] = {}
    for r in p.rates:
        if r.proof:
            by_proof.setdefault((r.cell_size, r.proof), []).append(r.block)
    for (m, text), blocks in by_proof.items():
        lines.append(f"    cell {m}, {', '.join(blocks)}: {text}")
    lines.append(f"  source: {p.provenance}")
    lines.append(f"  {p.match}")
    for w in p.warnings:
        lines.append(f"  {'note' if w in notes else 'warning'}: {w}")
    return "\n".join(lines)


def format_simulation(result, store: str | None = None) -> str:
    """The text of `identify simulate`: the sweep, the slope table, the reasons."""
    from identify.numeric.slopes import slope_table

    spec = result.spec
    m = spec.model
    lines = [f"identify simulate: {m['expert']} (gate {m['gate']}, {m['estimator']}, "
             f"d = {m['dim']})",
             f"  truth: {spec.truth['name']} with {len(spec.truth['atoms'])} atoms; fitted k = "
             f"{list(spec.fitted_ks)}; n = {list(spec.ns)}; {spec.replicates} replicates"]
    for k, p in spec.predictions.items():
        lines.append(f"  k = {k}: verdict {p['verdict']}; source {p['source']}")
    where = f"store: {store} (sweep {spec.sweep_id}); " if store else f"sweep {spec.sweep_id}; "
    counts = ", ".join(f"{v} {k}" for k, v in result.statuses.items())
    lines.append(f"  {where}{len(result.rows)} fits: {counts}; slopes use converged fits; "
                 f"tolerance {spec.tolerance:g}")
    lines.append("")
    lines.append(slope_table(result.slopes))
    for f in result.slopes:
        if f.predicted is None or f.verdict != "confirmed":
            lines.append(f"  {f.quantity} (k = {f.fitted_k}): {f.reason}")
    return "\n".join(lines)
