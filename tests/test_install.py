"""A plain `pip install .` (the runtime requirements only, no development tools) installs nothing that cannot run:
every console script it installs starts and prints its --help, and the docs builder says what to install."""
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def console_scripts() -> list[str]:
    cfg = configparser.ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini")
    return [entry.split("=")[0] for entry in cfg["DEFAULT"]["console_scripts"].split()]


@pytest.fixture(scope="module")
def plain_venv(tmp_path_factory):
    """A new virtual environment with cifar_nb installed from this checkout by a plain `pip install .`."""
    venv = tmp_path_factory.mktemp("plain") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)],
                         capture_output=True, text=True, timeout=1800)
    assert pip.returncode == 0, pip.stdout[-2000:] + pip.stderr[-4000:]
    return venv


def run(venv, *cmd, timeout=300):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    return subprocess.run([*map(str, cmd)], capture_output=True, text=True, env=env, cwd=venv.parent, timeout=timeout)


def test_the_plain_install_has_no_development_tools(plain_venv):
    for tool in ("nbdev", "fastcore", "yaml", "sphinx", "pytest"):
        p = run(plain_venv, plain_venv / "bin" / "python", "-c", f"import {tool}")
        assert p.returncode != 0, f"{tool} is installed by a plain `pip install .`: the test would prove nothing"


@pytest.mark.parametrize("script", console_scripts())
def test_every_console_script_prints_its_help(plain_venv, script):
    p = run(plain_venv, plain_venv / "bin" / script, "--help")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"usage: {script}"), p.stdout
    assert "Traceback" not in p.stderr


def test_the_docs_builder_says_what_to_install(plain_venv):
    p = run(plain_venv, plain_venv / "bin" / "cifar_nb_docs", "--check_readme")
    assert p.returncode == 2, p.stdout + p.stderr
    assert 'pip install -e ".[dev]"' in p.stderr and "is not installed" in p.stderr
    assert "Traceback" not in p.stderr


def test_the_package_works_without_the_development_tools(plain_venv):
    code = ("import cifar_nb.docs, cifar_nb.cli, cifar_nb.testing\n"
            "from cifar_nb.models import get_model\n"
            "print(get_model('baseline').count_params())")
    p = run(plain_venv, plain_venv / "bin" / "python", "-c", code)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.split()[-1] == "315722"
