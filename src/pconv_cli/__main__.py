from pconv_cli.cli import main

main()
