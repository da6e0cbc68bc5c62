#!/bin/bash
set -e
main() {
sleep 2
echo done
}
main "$@"
exit $?
