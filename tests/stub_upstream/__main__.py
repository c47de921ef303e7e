"""`python -m tests.stub_upstream --port N`"""

from tests.stub_upstream.run import main

main()
