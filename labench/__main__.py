from labench.cli import main

main()
