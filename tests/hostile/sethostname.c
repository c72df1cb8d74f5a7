/* sethostname [NAME]: rename "the machine".
 *
 * Attacks: the UTS namespace. sethostname() needs CAP_SYS_ADMIN over the UTS namespace's
 * owning user namespace; with it, the name changes for everything sharing that namespace.
 * A cell has its own UTS namespace, so at worst it renames itself; the host keeps its name.
 *
 * Sets the host name (default "cellblock-hostile") and the NIS domain name, and prints what
 * uname() says before and after. The test compares the host's name before and after the job.
 *
 * Expected in a cell: sethostname EPERM with capabilities dropped (old=new=the cell's name);
 * OK with new=NAME when the cell keeps CAP_SYS_ADMIN in its own user namespace; in both cases
 * the host's name is unchanged.
 * It refuses to run in the host's initial UTS namespace unless given --force (on a host, run
 * it inside `unshare -u`): it really renames whatever UTS namespace it is in.
 *
 * Output: RESULT sethostname OK|<errno> old=<name> new=<name as uname() now says>
 *         RESULT setdomainname OK|<errno> old=<name> new=<name>
 */
#include "hostile.h"

#include <sys/utsname.h>

int main(int argc, char **argv)
{
    const char *use = "sethostname [--force] [NAME]   (default cellblock-hostile; refuses the "
                      "host's UTS namespace without --force)";
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            continue;
        if (argv[i][0] == '-' || name)
            usage(use);
        name = argv[i];
    }
    if (!name)
        name = "cellblock-hostile";
    refuse_on_host("sethostname", argc, argv, "uts");

    struct utsname before, after;
    uname(&before);
    int err = sethostname(name, strlen(name)) == 0 ? 0 : errno;
    uname(&after);
    result_errno("sethostname", err, "old=%s new=%s", before.nodename, after.nodename);

    err = setdomainname(name, strlen(name)) == 0 ? 0 : errno;
    uname(&after);
    result_errno("setdomainname", err, "old=%s new=%s", before.domainname, after.domainname);
    return 0;
}
