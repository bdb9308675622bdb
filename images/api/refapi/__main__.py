from refapi.server import main

main()
