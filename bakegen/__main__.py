from bakegen.cli import main

main(prog_name="bakegen")
