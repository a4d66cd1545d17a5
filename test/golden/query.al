# generated from appliance/query.yaml for role query

node_name = query-1
company_name = "My Company"
anylog_server_port = 32348
anylog_rest_port = 32349
ledger_conn = 127.0.0.1:32048
sync_time = "30 seconds"
db_type = sqlite
loc = unknown
country = unknown
state = unknown
city = unknown

run tcp server where external_ip = !external_ip and external_port = !anylog_server_port and internal_ip = !ip and internal_port = !anylog_server_port and bind = false and threads = 6
run rest server where external_ip = !external_ip and external_port = !anylog_rest_port and internal_ip = !ip and internal_port = !anylog_rest_port and bind = false and threads = 6 and timeout = 20

connect dbms system_query where type = sqlite and memory = true

run scheduler 1
run blockchain sync where source = master and time = !sync_time and dest = file and connection = !ledger_conn

<new_policy = {"query": {"hostname": !hostname, "name": !node_name, "company": !company_name, "ip": !external_ip, "local_ip": !ip,
    "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int, "loc": !loc, "country": !country, "state": !state, "city": !city}}>
policy = blockchain get query where name = !node_name and company = !company_name
if not !policy then
do blockchain prepare policy !new_policy
do blockchain insert where policy = !new_policy and local = true and master = !ledger_conn
