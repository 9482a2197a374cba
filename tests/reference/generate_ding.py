"""Write tests/reference/ding_md_subset.npz: a small, stratified subset of the
molecular-dynamics scattering of polydisperse hard spheres of Ding, Tung, Chen & Do (2025).

Source: L. Ding, C.-H. Tung, W.-R. Chen and C. Do, "Deciphering the scattering of polydisperse
hard spheres using deep learning" (2025), training sets data_used/L_18_pdType_{1,2,3}_train_data
.npz of github.com/ljding94/Polydisperse_Sphere (copied to shared/ding/ as
{uniform,normal,lognormal}_train.npz). The data are the authors'; cite the paper.

For each distribution, 36 curves: the training set sorted by eta, split into 36 equal strata,
one curve drawn per stratum (numpy default_rng(17)), so eta covers 0..0.5 evenly and sigma is
as random as in the source. Stored: q (100,), and per distribution log10Iq (36, 100) in
float32 (the source's values to ~1e-7 relative, far below the model errors tested) and
params (36, 2) = (eta, sigma).

    python tests/reference/generate_ding.py [path to the folder of the three npz files]
"""

import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).parent
COUNT = 36


def main(source: pathlib.Path) -> None:
    rng = np.random.default_rng(17)
    out = {}
    for name in ("uniform", "normal", "lognormal"):
        data = np.load(source / f"{name}_train.npz")
        order = np.argsort(data["params"][:, 2], kind="stable")
        picks = [rng.choice(stratum) for stratum in np.array_split(order, COUNT)]
        out["q"] = data["q"]
        out[f"{name}_log10Iq"] = data["log10Iq"][picks].astype(np.float32)
        out[f"{name}_params"] = data["params"][picks][:, 2:4]
    np.savez_compressed(HERE / "ding_md_subset.npz", **out)


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/ding"))
