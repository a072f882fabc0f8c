"""Analyse one family: zero functions, relations with proofs, a certified rank.

Steps (theory.md section 3, design.md "exact where it decides"):

1. Structural pass: members that differentiate to exactly 0, and members whose expression
   is identical to an earlier member's (duplicates), are relations proved on sight.
2. Collocation at one generic rational atom, in ball arithmetic, at points of the whole
   input domain (every smooth piece of a non-smooth family): column-greedy
   elimination gives certified pivot columns and candidate dependent columns.
3. Each candidate dependent column: its support (earlier pivots with nonzero
   coefficient) is handed to :func:`relations.discover_relation` (exact values at rational
   parameter points, polynomial reconstruction, exact proof). An unproved candidate makes
   the analysis incomplete.
4. Joint collocation over all k atoms: a nonzero minor of size k * rank certifies that the
   atoms add no cross-atom relation (and, with the proved relations, that the rank is exact).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import sympy

from identify.symbolic.arbeval import ArbProgram, workprec
from identify.symbolic.budget import Budget, log
from identify.symbolic.collocation import Collocation as _Collocation
from identify.symbolic.family import Member
from identify.symbolic.linalg import Elimination, dependent_coefficients, eliminate
from identify.symbolic.points import PointSampler
from identify.symbolic.relations import Relation, SearchContext, discover_relation

__all__ = ["RankCertificate", "FamilyAnalysis", "analyze_family", "PRECISIONS"]

PRECISIONS = (256, 512, 1024)
ROW_MARGIN = 8


def _q(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


@dataclass(frozen=True)
class RankCertificate:
    """A square minor of the collocation matrix whose determinant is proved nonzero.

    The matrix entries are the family's members (columns, for each atom) evaluated at exact
    rational input points (rows) in ball arithmetic; the determinant's ball excludes 0.
    """

    size: int
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    atoms: tuple[dict[str, str], ...]
    determinant: str
    precision_bits: int

    @property
    def text(self) -> str:
        return (f"nonzero {self.size}x{self.size} minor of the collocation matrix at "
                f"{len(self.atoms)} rational atom(s): |det| in {self.determinant} "
                f"(ball arithmetic, {self.precision_bits} bits)")

    def to_dict(self) -> dict:
        return {"kind": "nonzero-minor", "size": self.size, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows], "atoms": list(self.atoms),
                "determinant": self.determinant, "precision_bits": self.precision_bits,
                "text": self.text}


@dataclass(frozen=True)
class FamilyAnalysis:
    """What is proved about one family.

    Attributes
    ----------
    members:
        The family, in canonical order.
    zero_functions:
        One-term relations: members that vanish identically.
    relations:
        A basis of the remaining relations (duplicates and others), each proved.
    rank:
        Certified rank for one atom.
    unproved:
        Members that looked dependent numerically but whose relation was not proved.
    atoms, joint_rank:
        Number of atoms and the certified rank of the union of their families.
    certificate:
        The nonzero minor behind ``joint_rank``.
    """

    members: tuple[Member, ...]
    zero_functions: tuple[Relation, ...]
    relations: tuple[Relation, ...]
    rank: int
    unproved: tuple[Member, ...]
    atoms: int
    joint_rank: int
    certificate: RankCertificate | None
    notes: tuple[str, ...] = field(default=())
    stopped: bool = False  # the time budget ended the analysis before the family was built

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def complete(self) -> bool:
        """Every relation is accounted for: rank + relations = size, and atoms do not interact."""
        return (not self.stopped and not self.unproved
                and self.rank + len(self.relations) + len(self.zero_functions) == self.size
                and self.joint_rank >= self.atoms * self.rank)

    @property
    def independent(self) -> bool | None:
        """True (certified), False (a relation is proved) or None (inconclusive)."""
        if self.relations or self.zero_functions:
            return False
        return True if self.complete else None

    @property
    def only_duplicates(self) -> bool | None:
        """Read as a set (duplicates merged), is the family independent?"""
        if self.zero_functions or any(r.kind != "duplicate" for r in self.relations):
            return False
        return True if self.complete else None

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "members": [m.label for m in self.members],
            "rank": self.rank,
            "zero_functions": [list(r.members[0].derivative) for r in self.zero_functions],
            "zero_function_labels": [r.members[0].label for r in self.zero_functions],
            "relations": [r.to_dict() for r in self.relations],
            "unproved": [m.label for m in self.unproved],
            "atoms": self.atoms,
            "joint_rank": self.joint_rank,
            "complete": self.complete,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "notes": list(self.notes),
        }


def _structural(members: Sequence[Member]) -> tuple[list[Relation], list[Relation], list[int]]:
    zeros: list[Relation] = []
    dups: list[Relation] = []
    reps: list[int] = []
    seen: dict[sympy.Expr, int] = {}
    for i, m in enumerate(members):
        if m.expr == 0:
            zeros.append(Relation(((m, sympy.Integer(1)),), "identically zero after differentiation"))
        elif m.expr in seen:
            first = members[seen[m.expr]]
            dups.append(Relation(((first, sympy.Integer(1)), (m, sympy.Integer(-1))),
                                 "identical expressions"))
        else:
            seen[m.expr] = i
            reps.append(i)
    return zeros, dups, reps


def analyze_family(
    members: Sequence[Member],
    inputs: Sequence[sympy.Symbol],
    params: Sequence[sympy.Symbol],
    atoms: Sequence[dict[sympy.Symbol, Fraction]],
    *,
    seed: int = 0,
    precisions: Sequence[int] = PRECISIONS,
    positive: Collection[sympy.Symbol] = (),
    budget: Budget | None = None,
    stage: str = "the family",
) -> FamilyAnalysis:
    """Zero functions, a proved relation basis and a certified rank for ``members``.

    Everything is measured on the whole input domain: for a non-smooth family the rows
    come from every smooth piece and a relation is proved on every piece.
    """
    budget = budget or Budget()
    members = tuple(members)
    zeros, dups, reps = _structural(members)
    rep_members = [members[i] for i in reps]
    notes: list[str] = []
    if not reps:
        return FamilyAnalysis(members, tuple(zeros), tuple(dups), 0, (), len(atoms), 0, None)
    program = ArbProgram([m.expr for m in rep_members], list(inputs) + list(params))
    atom_values = [[atom[s] for s in params] for atom in atoms]
    positive_params = [s in positive for s in params]
    positive_inputs = False
    relations: list[Relation] = []
    unproved: list[int] = []
    prec = precisions[0]
    elim = Elimination()
    seen_deps: list[int] | None = None
    ctx = None
    for attempt, prec in enumerate(precisions):
        with workprec(prec):
            n_rows = (len(reps) + ROW_MARGIN) * (attempt + 1)
            coll = _Collocation(program, len(inputs), PointSampler(seed + attempt), positive_inputs)
            got = coll.rows(atom_values[:1], n_rows)
            if got is None and not positive_inputs:
                positive_inputs = True
                notes.append("the family is not finite on the whole domain; inputs sampled in (0, 2]")
                coll = _Collocation(program, len(inputs), PointSampler(seed), positive_inputs)
                got = coll.rows(atom_values[:1], n_rows)
            if got is None:
                notes.append("could not find enough points where the family is finite")
                return FamilyAnalysis(members, tuple(zeros), tuple(dups), 0,
                                      tuple(rep_members), len(atoms), 0, None, tuple(notes))
            A, pts = got
            elim = eliminate(A)
            deps = [c for c, _ in elim.dependent]
            if deps and deps != seen_deps and attempt + 1 < len(precisions):
                # a candidate can be an artefact of too few rows or bits: confirm it at the
                # next precision, with more rows, before searching for its relation
                seen_deps = deps
                log.info("%s: %d candidate relation(s) at %d bits, confirming", stage, len(deps),
                         prec)
                continue
            ctx = SearchContext(program, rep_members, len(inputs), params, positive_params,
                                positive_inputs, seed, budget, pivots=tuple(elim.pivot_cols),
                                dependent=tuple(c for c, _ in elim.dependent),
                                signs=tuple(1 if v > 0 else -1 for v in atom_values[0]))
            relations, unproved = [], []
            log.info("%s: %d members, %d candidate relation(s) at %d bits", stage, len(reps),
                     len(elim.dependent), prec)
            for col, before in elim.dependent:
                if budget.expired(f"the relation search ({stage})"):
                    unproved.append(col)
                    continue
                vals = dependent_coefficients(A, elim, col, before)
                support = [b for b, v in zip(before, vals, strict=True) if not v.contains(0)] + [col]
                rel = discover_relation(ctx, support)
                if rel is None and len(support) < len(before) + 1:
                    rel = discover_relation(ctx, list(before) + [col])
                if rel is None:
                    unproved.append(col)
                else:
                    relations.append(rel)
        if not unproved or budget.expired(stage):
            break
    rank = elim.rank
    joint, cert = 0, None
    for attempt, jprec in enumerate(dict.fromkeys((prec, *precisions[1:]))):
        if budget.expired(f"the joint certificate ({stage})"):
            break
        with workprec(jprec):
            coll = _Collocation(program, len(inputs), PointSampler(seed + 101 + attempt),
                                positive_inputs)
            got = coll.rows(atom_values, (len(atoms) * len(reps) + ROW_MARGIN) * (attempt + 1))
            if got is None:
                continue
            J, pts = got
            jel = eliminate(J)
            if jel.rank <= joint:
                continue
            joint = jel.rank
            labels = [f"{rep_members[c % len(reps)].label} @ atom {c // len(reps) + 1}"
                      for c in jel.pivot_cols]
            cert = RankCertificate(
                size=jel.rank,
                columns=tuple(labels),
                rows=tuple(tuple(_q(v) for v in pts[r]) for r in jel.pivot_rows),
                atoms=tuple({s.name: _q(v) for s, v in atom.items()} for atom in atoms),
                determinant=jel.determinant().str(5, radius=True),
                precision_bits=jprec,
            )
        if joint >= len(atoms) * rank:
            break
    if joint > len(atoms) * rank:
        notes.append(f"the joint rank over {len(atoms)} atoms ({joint}) exceeds {len(atoms)} x "
                     f"{rank}: the atoms differ in rank (one is not generic); the atoms add no "
                     f"relation")
    if joint < len(atoms) * rank:
        notes.append(f"the joint rank over {len(atoms)} atoms ({joint}) is below {len(atoms)} x "
                     f"{rank}: cross-atom relations or too few points; inconclusive")
    if unproved:
        notes.append(f"{len(unproved)} member(s) looked dependent at {prec} bits but no relation "
                     "was proved: inconclusive")
        if ctx is not None and ctx.unrecognised:
            notes.append("some coefficients are not rational at rational parameter values (e.g. "
                         "exp(b)): relations whose coefficients are not rational functions of "
                         "the parameters are outside the search")
    zeros += [r for r in relations if r.kind == "zero"]
    relations = [r for r in relations if r.kind != "zero"]
    all_relations = sorted(dups + relations,
                           key=lambda r: (len(r.terms), r.order,
                                          [members.index(m) for m in r.members]))
    return FamilyAnalysis(
        members=members,
        zero_functions=tuple(zeros),
        relations=tuple(all_relations),
        rank=rank,
        unproved=tuple(rep_members[c] for c in unproved),
        atoms=len(atoms),
        joint_rank=joint,
        certificate=cert,
        notes=tuple(notes),
    )
