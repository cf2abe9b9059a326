"""What the test suite (``tests/``) and the benchmarks (``bench/``) share, so that neither
imports the other: scratch databases and benchmarked servers (``scratch``), installing Node
packages (``node``), and the web app's build and end-to-end harness (``web``)."""
