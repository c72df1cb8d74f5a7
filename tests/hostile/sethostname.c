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
 * On a host, run it only inside `unshare -u`: it really renames whatever UTS namespace it is in.
 *
 * Output: RESULT sethostname OK|<errno> old=<name> new=<name as uname() now says>
 *         RESULT setdomainname OK|<errno> old=<name> new=<name>
 */
#include "hostile.h"

#include <sys/utsname.h>

int main(int argc, char **argv)
{
    if (argc > 2)
        usage("sethostname [NAME]   (default cellblock-hostile)");
    const char *name = argc == 2 ? argv[1] : "cellblock-hostile";

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
