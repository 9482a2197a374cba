"""The `jaxmie` command: files written, values against scattnlay, errors that name the input."""

import csv

import numpy as np
import pytest

from jaxmie import _cli as cli


def read_csv(path):
    with path.open() as handle:
        rows = list(csv.reader(handle))
    return rows[0], np.array(rows[1:], dtype=float)


def test_spectrum_csv_matches_scattnlay(tmp_path):
    scattnlay = pytest.importorskip("scattnlay").scattnlay
    code = cli.main(["--core", "1.45:40", "--shell", "0.2+3j:55", "--env", "1.33",
                     "--wavelengths", "450:850:9", "--out", str(tmp_path), "--no-plot"])
    assert code == 0
    header, table = read_csv(tmp_path / "spectrum.csv")
    assert header == ["wavelength_nm", "q_ext", "q_sca", "q_abs", "q_back", "q_fwd", "g"]
    assert not (tmp_path / "spectrum.png").exists()
    for row in table:
        k = 2 * np.pi * 1.33 / row[0]
        _, q_ext, q_sca, q_abs, q_back, _, g, *_ = scattnlay(
            np.array([40.0, 55.0]) * k, np.array([1.45, 0.2 + 3j]) / 1.33)
        # The CSV keeps 13 significant digits.
        np.testing.assert_allclose(row[[1, 2, 3, 4, 6]], [q_ext, q_sca, q_abs, q_back, g],
                                   rtol=1e-10)


def test_default_particle_writes_csv_and_png(tmp_path, capsys):
    assert cli.main(["--wavelengths", "500:1000:11", "--out", str(tmp_path)]) == 0
    _, table = read_csv(tmp_path / "spectrum.csv")
    assert table.shape == (11, 7) and np.all(np.isfinite(table))
    assert (tmp_path / "spectrum.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert "Au/Johnson to 20 nm / Si/Schinke to 100 nm" in out


def test_material_names_are_accepted(tmp_path):
    cli.main(["--layer", "SiO2:50", "--layer", "Ag:60", "--wavelengths", "400,500,600",
              "--out", str(tmp_path), "--no-plot"])
    _, table = read_csv(tmp_path / "spectrum.csv")
    assert np.all(table[:, 3] > 0)  # a silver shell absorbs


@pytest.mark.parametrize(("argv", "message"), [
    (["--core", "1.5:-3"], "radii[0]"),
    (["--core", "Unobtainium:20"], "Unobtainium"),
    (["--core", "1.5:20", "--shell", "2.0:10"], "radii"),
    (["--wavelengths", "500:400:x"], "wavelengths"),
    (["--env", "0"], "n_env"),
    (["--wavelengths", "400:900:0"], "COUNT must be at least 1; got 0"),
    (["--wavelengths", "400,-5"], "must be finite and > 0 nm"),
    (["--layer", "inf:50"], "index 'inf' is not a finite number"),
    (["--layer", "nan+1j:50"], "is not a finite number"),
])
def test_bad_input_exits_with_a_message_naming_it(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out", str(tmp_path), "--no-plot"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("target", ["file", "under a file"])
def test_unwritable_out_fails_before_computing(target, tmp_path, capsys, monkeypatch):
    """An --out that cannot be a folder ends with a message naming it, before the spectrum
    is computed (not in a traceback after it)."""
    existing = tmp_path / "spectrum.csv"
    existing.write_text("not a folder")
    out = existing if target == "file" else existing / "x"
    computed = []
    monkeypatch.setattr("jaxmie.efficiencies", lambda *a, **k: computed.append(1))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--out", str(out), "--no-plot"])
    assert exit_info.value.code == 2
    assert f"--out {str(out)!r} is not a writable folder" in capsys.readouterr().err
    assert not computed
