"""spring-boot-framework: a Spring Boot jar built with Maven or Gradle, run from /app.

The app provides pom.xml (Maven) or build.gradle (Gradle) at its root, not both; a mvnw or
gradlew wrapper, if there, must be executable. The jar goes to /app; the jlink plugin makes
a trimmed Java runtime. The service runs ``java -jar *.jar``; Spring Boot listens on 8080
by default. Experimental in Rockcraft, so here too. Where Rockcraft stages chisel slices on
a bare base, rockpack stages the whole Debian or Ubuntu packages.
"""

from __future__ import annotations

import os
from typing import Any

from rockpack.project.extensions import python_app as py
from rockpack.project.extensions.framework import DAEMON, App, Extension

NAME = "spring-boot-framework"
INSTALL_APP = f"{NAME}/install-app"
RUNTIME = f"{NAME}/runtime"
ASSETS = f"{NAME}/assets"
INIT_SCRIPT = f"{NAME}/gradle-init-script"
JDK = ["default-jdk"]
MAVEN_BUILD = ["craftctl default", "find ${CRAFT_PART_INSTALL} -name '*-plain.jar' -type f -delete"]
# Gradle links every jar of the build into jar/; keep only bootJar's fat jar.
GRADLE_BUILD = [
    "craftctl default",
    "FAT_JAR=$(find ${CRAFT_PART_BUILD}/build/libs -name '*.jar' ! -name '*-plain.jar' "
    "-type f -printf '%f\\n' | head -1)",
    '[ -n "${FAT_JAR}" ] || { echo "no Spring Boot jar in build/libs" >&2; exit 1; }',
    'find ${CRAFT_PART_INSTALL}/jar -name "*.jar" ! -name "${FAT_JAR}" -delete',
]


def _init_script(app: App) -> str:
    return str(app.user_part(INIT_SCRIPT).get("override-build") or "")


def problems(app: App) -> list[str]:
    maven, gradle = app.exists("pom.xml"), app.exists("build.gradle")
    found = []
    if maven and gradle:
        found.append("both pom.xml and build.gradle are there: keep the one that builds the app")
    elif not maven and not gradle:
        found.append(f"missing pom.xml or build.gradle in {app.project_dir}")
    if app.exists("mvnw") and app.exists("gradlew"):
        found.append("both mvnw and gradlew are there: keep the one that builds the app")
    for wrapper in ("mvnw", "gradlew"):
        if app.exists(wrapper) and not os.access(app.path(wrapper), os.X_OK):
            found.append(f"{wrapper} is not executable (chmod +x {wrapper})")
    if _init_script(app) and not gradle:
        found.append(f"'{INIT_SCRIPT}' is only for a Gradle build (there is no build.gradle)")
    stage = app.user_list(ASSETS, "stage")
    return found + py.prime_problem(NAME, ASSETS, "app/", stage)


def _install_app(app: App) -> dict[str, Any]:
    part: dict[str, Any] = {"source": ".", "organize": {"**/*.jar": "app/"}}
    user_packages = app.user_list(INSTALL_APP, "build-packages")
    if app.exists("build.gradle"):
        commands = list(GRADLE_BUILD)
        part.update(plugin="gradle", **{"gradle-task": "bootJar"})
        part["build-packages"] = JDK + ([] if app.exists("gradlew") else ["gradle"])
        if _init_script(app):
            part["build-environment"] = [{"GRADLE_USER_HOME": "${CRAFT_PART_BUILD}/.gradle/"}]
            part["after"] = [INIT_SCRIPT]
            commands[:0] = [
                "mkdir -p ${CRAFT_PART_BUILD}/.gradle/",
                "cp ${CRAFT_STAGE}/*init.gradle* ${CRAFT_PART_BUILD}/.gradle/",
            ]
        part["override-build"] = "\n".join(commands)
    else:
        part["plugin"] = "maven"
        part["build-packages"] = user_packages or JDK + ([] if app.exists("mvnw") else ["maven"])
        part["override-build"] = "\n".join(MAVEN_BUILD)
        if app.exists("mvnw"):
            part["maven-use-wrapper"] = True
    if app.bare:
        part["stage-packages"] = ["libnss3", "libc6", "libgcc-s1", "libstdc++6", "zlib1g"]
    return part


def _runtime(app: App) -> dict[str, Any]:
    packages = app.user_list(RUNTIME, "build-packages") or JDK
    part: dict[str, Any] = {"plugin": "jlink", "after": [INSTALL_APP], "build-packages": packages}
    if app.bare:
        part["stage-packages"] = ["bash", "base-files", "coreutils"]
    return part


def snippet(app: App) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if _init_script(app):
        parts[INIT_SCRIPT] = {
            "plugin": "nil",
            "source": ".",
            "override-build": _init_script(app),
            "prime": [],
        }
    parts[INSTALL_APP] = _install_app(app)
    parts[RUNTIME] = _runtime(app)
    assets = py.assets_part(app, ASSETS, ("migrate", "migrate.sh"))
    if assets:
        parts[ASSETS] = assets
    return {
        "run-user": DAEMON,
        "services": {
            "spring-boot": {
                "override": "replace",
                "startup": "enabled",
                "user": DAEMON,
                "working-dir": "/app",
                "command": 'bash -c "java -jar *.jar"',
            }
        },
        "parts": parts,
    }


EXTENSION = Extension(
    name=NAME,
    summary="Spring Boot jar (Maven or Gradle) run with a jlink runtime; port 8080",
    bases=(),
    experimental_bases=("bare", "debian@12", "debian@13", "ubuntu@24.04"),
    problems=problems,
    snippet=snippet,
    untested=("bare", "debian@12", "debian@13", "ubuntu@24.04"),
)
