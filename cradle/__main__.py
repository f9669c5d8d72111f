from cradle.cli import main

main()
