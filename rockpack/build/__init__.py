"""The parts lifecycle: takes a Project, runs craft-parts (pull, overlay, build, stage, prime)
on this host in the project's workspace, gives the prime directory and project variables."""
