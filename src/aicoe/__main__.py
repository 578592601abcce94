from aicoe.cli import main

main()
