import subprocess
import sys


def omniroute(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "router.cli", *args], capture_output=True, text=True, timeout=60)


def test_erlang_c_prints_the_agents_needed_and_the_kpis():
    out = omniroute("erlang", "c", "--calls-per-hour", "200", "--aht", "180", "--target-seconds", "20",
                    "--service-level", "80")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "agents needed: 14"
    assert "P(wait):        17.41%" in out.stdout


def test_erlang_a_needs_patience_and_accounts_for_abandonment():
    base = [
        "erlang",
        "a",
        "--calls-per-hour",
        "200",
        "--aht",
        "180",
        "--target-seconds",
        "20",
        "--service-level",
        "0.8",
    ]
    assert omniroute(*base).returncode == 1
    out = omniroute(*base, "--patience", "120")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "agents needed: 12"
    assert "abandoned:" in out.stdout
