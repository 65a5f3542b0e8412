"""Screenshots of the Dagster UI after a real ``polsearch ingest``, taken by headless Chromium, into docs/img/.

    .venv/bin/python scripts/ui_screenshots.py [--out docs/img] [--keep DIR]

What the README's UI section describes, as a new user sees it: the sample hearing ingested with the CLI into
a fresh instance (artifacts and index in a temporary directory), one speaker named, then ``dagster dev`` on
that instance from the repository root and each page captured: the job's graph, its Runs tab (the CLI's
run), Overview -> Timeline, and the asset pages with their metadata and checks. Needs Chromium
(``apt-get install -y chromium``); about 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402  (Pillow comes with the dev install, through fastembed)

from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML  # noqa: E402
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV  # noqa: E402
from polsearch_assets_tests.fixtures.processes import dagster_dev, polsearch  # noqa: E402

LOCATION = (
    "polsearch"  # workspace.yaml's code location; its repository is __repository__, shown as the location
)


def pages(key: str, run_id: str) -> dict[str, str]:
    """File name -> UI path, for the hearing ``key`` ingested by run ``run_id``."""
    job = f"/locations/{LOCATION}/jobs/hearing_pipeline"
    return {
        "job_graph.png": job,
        "job_runs.png": f"{job}/runs",
        "overview_timeline.png": "/overview/activity/timeline",
        "run.png": f"/runs/{run_id}",
        "asset_transcript.png": f"/assets/transcript?partition={key}",
        "asset_speaker_names.png": f"/assets/speaker_names?partition={key}",
        "asset_speaker_names_checks.png": "/assets/speaker_names?view=checks",
    }


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise SystemExit("no Chromium found; install it with: apt-get install -y chromium")


def screenshot(browser: str, url: str, out: Path, profile: Path) -> None:
    """One page, rendered by headless Chromium after its GraphQL queries settle (virtual time budget)."""
    subprocess.run(
        [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1440,900",
            "--virtual-time-budget=20000",
            f"--screenshot={out}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    with Image.open(out) as image:  # a 128-colour palette keeps each page ~50 KB in the repository
        image.convert("RGB").quantize(colors=128).save(out, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument(
        "--keep", type=Path, help="Use (and keep) this directory for the instance and artifacts."
    )
    args = parser.parse_args()
    browser = chromium()
    root = args.keep or Path(tempfile.mkdtemp(prefix="polsearch-ui-"))
    # The local instance's configuration, without Dagster's one-time "Join the community" dialog over every page
    (root / "dagster").mkdir(parents=True, exist_ok=True)
    (root / "dagster" / "dagster.yaml").write_text(
        LOCAL_DAGSTER_YAML.read_text() + "\nnux:\n  enabled: false\n"
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster"),
        "POLSEARCH_ARTIFACT_ROOT": str(root / "artifacts"),
        "POLSEARCH_LANCEDB_URI": str(root / "lancedb"),
    }
    ingest = polsearch(env, "ingest", str(SAMPLE_WAV), "--title", "Bridge safety (synthetic sample)")
    if ingest.returncode != 0:
        raise SystemExit(f"polsearch ingest failed:\n{ingest.stderr[-3000:]}")
    run_id = re.search(r"^run (\S+): ", ingest.stdout, re.MULTILINE).group(1)  # type: ignore[union-attr]
    key = ingest.stdout.strip().splitlines()[-1]
    named = polsearch(env, "speakers", "name", key, "SPEAKER_0", "Chair Person", "--role", "Chair")
    if named.returncode != 0:
        raise SystemExit(f"polsearch speakers name failed:\n{named.stderr[-3000:]}")
    args.out.mkdir(parents=True, exist_ok=True)
    with dagster_dev(root / "dagster", env) as url:
        for name, path in pages(key, run_id).items():
            screenshot(browser, url + path, args.out / name, root / "chromium")
            print(f"{args.out / name}: {path}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
