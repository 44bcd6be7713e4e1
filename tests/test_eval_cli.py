"""Evaluation through the command line: a short mnist-5k run scored with the classifier
extractor writes FID/IS/KID/precision/recall with provenance; `ganbench eval` re-scores it."""
import json
import subprocess
import sys

FID = "frechet_inception_distance"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], capture_output=True, text=True)


def test_train_with_eval_then_rescore(tmp_path):
    out = tmp_path / "run"
    p = cli("train", "--loss", "ns", "--dataset", "mnist-5k", "--model", "dcgan", "--set", "model_params.width=8",
            "--steps", "60", "--batch-size", "32", "--eval-every", "30", "--extractor", "classifier",
            "--num-samples", "300", "--set", "eval.kid_subset_size=100", "--out", str(out), "--no-progress")
    assert p.returncode == 0, p.stderr[-2000:]
    rec = json.loads((out / "record.json").read_text())
    m = rec["metrics"]
    for key in [FID, "inception_score_mean", "kernel_inception_distance_mean", "precision", "recall", "f_score",
                "classes_covered", "class_kl"]:
        assert isinstance(m["final"][key], float), key
    assert m["best"][FID] <= m["final"][FID] and m["best_step"][FID] in (30, 60)
    assert m["init"][FID] > 0 and [s for s, _ in rec["curves"]["eval." + FID]] == [0, 30, 60]
    prov = m["provenance"]
    assert prov["extractor"] == "classifier" and prov["n_fake"] == 300 and prov["n_real"] == 300
    assert prov["ref_split"] == "test" and prov["final_checkpoint_step"] == 60
    assert prov.get("extractor_weights_sha256") or prov.get("extractor_hash")
    assert rec["collapsed"] in (True, False)

    r = cli("eval", str(out), "--num-samples", "200")
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout)
    assert res["step"] == 60 and res["provenance"]["n_fake"] == 200
    rec2 = json.loads((out / "record.json").read_text())
    assert "classifier/200" in rec2["metrics"]["rescored"]
    # re-scoring the same checkpoint with the same settings as training reproduces the final score
    r = cli("eval", str(out), "--num-samples", "300")
    assert abs(json.loads(r.stdout)["values"][FID] - m["final"][FID]) < 1e-6 * max(1.0, m["final"][FID])


def test_eval_of_a_folder_without_record(tmp_path):
    r = cli("eval", str(tmp_path))
    assert r.returncode == 2 and "no record.json" in r.stderr
