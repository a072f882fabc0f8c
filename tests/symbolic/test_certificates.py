"""The rank certificate is a real nonzero minor: recompute it with a naive reference."""

from __future__ import annotations

import mpmath
import sympy

from identify import check
from identify.model.functions import ELEMENTARY_REWRITE


def _rational(text: str) -> sympy.Rational:
    return sympy.Rational(text)


def test_certificate_minor_recomputed_with_mpmath_is_nonzero():
    r = check("sigmoid(a*x+b)")
    cert = r.family.certificate
    members = {m.label: m for m in r.family.members}
    params = {s.name: s for s in r.model.parameters}
    x = r.model.inputs[0]
    mpmath.mp.dps = 80
    M = mpmath.matrix(cert.size, cert.size)
    for j, col in enumerate(cert.columns):
        label, atom_no = col.rsplit(" @ atom ", 1)
        atom = cert.atoms[int(atom_no) - 1]
        expr = ELEMENTARY_REWRITE(members[label].expr).subs(
            {params[k]: _rational(v) for k, v in atom.items()})
        for i, row in enumerate(cert.rows):
            M[i, j] = mpmath.mpf(sympy.N(expr.subs(x, _rational(row[0])), 80))
    det = mpmath.det(M)
    lo, hi = (mpmath.mpf(s) for s in _ball_bounds(cert.determinant))
    assert lo <= abs(det) <= hi
    assert abs(det) > 0


def _ball_bounds(text: str) -> tuple[str, str]:
    # "[m +/- r]"
    m, r = text.strip("[]").split("+/-")
    mid, rad = mpmath.mpf(m.strip()), mpmath.mpf(r.strip())
    return str(mid - rad), str(mid + rad)
