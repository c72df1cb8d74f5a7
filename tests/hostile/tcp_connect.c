/* tcp_connect PORT [ADDR]: connect to a TCP port the test listens on, on the host's loopback.
 *
 * Attacks: the network namespace. The test listens on 127.0.0.1:PORT on the host and passes
 * PORT. A cell has its own loopback interface, so 127.0.0.1 there is the cell itself: nothing
 * listens, and the connect is refused (ECONNREFUSED). OK means the cell shares the host's
 * network namespace. ADDR (default 127.0.0.1) lets a test try another address, e.g. the
 * host's external address (ENETUNREACH expected: the cell has no route).
 * The connect is non-blocking with a 2 s limit, so a dropped SYN gives ETIMEDOUT, not a hang.
 *
 * Expected in a cell: tcp_connect ECONNREFUSED (ENETUNREACH for a non-loopback ADDR; EPERM or
 * EACCES if the policy forbids AF_INET).
 *
 * Output: RESULT tcp_connect OK|<errno> addr=<ADDR>:<PORT> [step=socket]
 */
#include "hostile.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    const char *use = "tcp_connect PORT [ADDR]   (ADDR defaults to 127.0.0.1)";
    if (argc < 2 || argc > 3)
        usage(use);
    long port = parse_count(argv[1], use);
    const char *addr = argc == 3 ? argv[2] : "127.0.0.1";
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (port < 1 || port > 65535 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
        usage(use);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        result("tcp_connect", errno_name(errno), "addr=%s:%ld step=socket", addr, port);
        return 0;
    }
    int err = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int ready = poll(&p, 1, 2000);
            if (ready == 0) {
                err = ETIMEDOUT;
            } else {
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                    err = errno;
            }
        }
    }
    close(fd);
    result_errno("tcp_connect", err, "addr=%s:%ld", addr, port);
    return 0;
}
