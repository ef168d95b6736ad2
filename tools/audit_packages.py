"""`make check`'s vulnerability audit: pip-audit over the installed packages (the venv, which
`make install` builds from constraints.txt), against PyPI's advisory database.

pip-audit says "No known vulnerabilities found" even when it could audit nothing (PyPI's
per-version JSON API unreachable or refused): this script tells the three outcomes apart.

- a known vulnerability: listed, exit 1 (make check fails);
- every package audited, none vulnerable: exit 0;
- some or all packages not audited (no network, service down): a loud NOT AUDITED line naming
  them, exit 0, or exit 2 with AUDIT_STRICT=1 (for a machine that must audit).
"""

import json
import os
import subprocess  # nosec B404 # one call below, fixed arguments
import sys

COMMAND = [
    sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off",
    "--format", "json",
]  # fmt: skip


def main() -> int:
    strict = os.environ.get("AUDIT_STRICT") == "1"
    done = subprocess.run(COMMAND, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603 # our interpreter, fixed arguments
    try:
        report = json.loads(done.stdout)
    except ValueError:
        # pip-audit stopped before its report: usually the service could not be reached.
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        print(f"pip-audit: NOT AUDITED: pip-audit failed (exit {done.returncode}): {tail}")
        return 2 if strict else 0
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            print(
                f"pip-audit: VULNERABLE {dependency['name']} {dependency['version']}: "
                f"{vuln['id']} (fixed in: {fixes})"
            )
    audited = len(dependencies) - len(skipped)
    if skipped:
        names = ", ".join(d["name"] for d in skipped)
        print(
            f"pip-audit: NOT AUDITED: {len(skipped)} of {len(dependencies)} packages could not "
            f"be checked (PyPI's vulnerability data did not answer for them): {names}"
        )
    if vulnerable:
        return 1
    if skipped:
        return 2 if strict else 0
    print(f"pip-audit: {audited} packages audited, no known vulnerabilities")
    return 0


if __name__ == "__main__":
    sys.exit(main())
