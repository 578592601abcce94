from aicoe.cli.main import main

main()
