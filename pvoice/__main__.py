from pvoice.cli import main

main()
