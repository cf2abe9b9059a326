from mdreader.cli import main

main()
