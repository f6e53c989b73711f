/* legacy-client: stands for a program that knows nothing of Infisical and
 * can only read its password from a file named in its configuration.
 *
 *   cc -O2 -Wall -o legacy-client legacy-client.c
 *   legacy-client CONFIG
 *
 * CONFIG holds `key = value` lines (`#` starts a comment): host, port, user
 * and password_file. The client reads the first line of the password file,
 * logs in to host:port with `LOGIN <user> <password>\n`, prints the server's
 * one-line answer, and exits 0 when it starts with OK, 1 otherwise.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char *trim(char *text) {
    while (isspace((unsigned char)*text)) text++;
    char *end = text + strlen(text);
    while (end > text && isspace((unsigned char)end[-1])) *--end = '\0';
    return text;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CONFIG\n", argv[0]);
        return 2;
    }
    char host[256] = "127.0.0.1", user[256] = "", password_file[4096] = "";
    int port = 0;
    FILE *config = fopen(argv[1], "r");
    if (!config) {
        perror(argv[1]);
        return 2;
    }
    char line[4096];
    while (fgets(line, sizeof line, config)) {
        char *equals = strchr(line, '=');
        if (line[0] == '#' || !equals) continue;
        *equals = '\0';
        char *key = trim(line), *value = trim(equals + 1);
        if (!strcmp(key, "host")) snprintf(host, sizeof host, "%s", value);
        else if (!strcmp(key, "port")) port = atoi(value);
        else if (!strcmp(key, "user")) snprintf(user, sizeof user, "%s", value);
        else if (!strcmp(key, "password_file")) snprintf(password_file, sizeof password_file, "%s", value);
    }
    fclose(config);

    /* The password: the first line of the file, without its line break. */
    char password[1024] = "";
    FILE *secret = fopen(password_file, "r");
    if (!secret) {
        perror(password_file);
        return 1;
    }
    if (!fgets(password, sizeof password, secret)) password[0] = '\0';
    fclose(secret);
    password[strcspn(password, "\r\n")] = '\0';

    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int connection = socket(AF_INET, SOCK_STREAM, 0);
    if (connection < 0 || inet_pton(AF_INET, host, &address.sin_addr) != 1 ||
        connect(connection, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        return 1;
    }
    char request[2048];
    int length = snprintf(request, sizeof request, "LOGIN %s %s\n", user, password);
    if (length < 0 || length >= (int)sizeof request || write(connection, request, (size_t)length) != length) {
        perror("write");
        return 1;
    }
    char answer[256];
    size_t used = 0;
    ssize_t got;
    while (used < sizeof answer - 1 && (got = read(connection, answer + used, sizeof answer - 1 - used)) > 0) {
        used += (size_t)got;
        if (memchr(answer, '\n', used)) break;
    }
    close(connection);
    answer[used] = '\0';
    answer[strcspn(answer, "\n")] = '\0';
    printf("%s\n", answer);
    return strncmp(answer, "OK", 2) == 0 ? 0 : 1;
}
